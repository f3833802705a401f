// The _config the promtool unit tests (dashboards/tests/*.yaml) render the rules with: the
// defaults plus one use case, and short use-case windows so a test spans hours, not months.
{
  _config+:: {
    useCaseRatioWindow: '1h',
    useCases+: {
      'support-triage': {
        outcome: 'ticket_resolved',
        targetRoi: 4,
        baselineUsdPerOutcome: 4,
        reviewDate: '2027-03-31',
        killRatio: 0.5,
        killPeriod: '2h',
        // 1314.5 USD a month: 0.000499847... USD per second (a month of 2629800 s).
        fixedMonthlyUsd: { platform: 1000, governance: 314.5 },
      },
    },
  },
}
