// Grafana unit ids the dashboards use. Every panel that shows money or counts sets one.
{
  usd: 'currencyUSD',
  count: 'short',
  ratio: 'percentunit',
  seconds: 's',
  none: 'none',
}
