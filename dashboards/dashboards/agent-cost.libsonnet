// Agent cost per trace (for SREs): what a run costs by use case and agent, which runs cost the
// most (Tempo), where the spend rate goes (service, model, category), token use and context
// growth, the cache, pricing gaps, failed-call spend and budget events. docs/dashboards.md
// says what each panel answers. A function of _config, as every dashboard file here.
local lib = import '../lib/lib.libsonnet';

function(config)
  local l = config.labels;
  local p = lib.promql;
  local t = lib.target;
  local panel = lib.panel;
  local u = lib.units;
  local all = ['service', 'team', 'tenant', 'useCase', 'model'];
  // The run-cost histogram carries the dimensions but no model.
  local runs = ['service', 'team', 'tenant', 'useCase'];
  // Operation, pricing and budget counters carry no dimensions.
  local svc = ['service'];
  local cost = 'spanledger_cost_usd_total';
  local tokens = 'spanledger_tokens_total';
  local bucket = 'spanledger_trace_cost_usd_bucket';
  local perHour(expr) = expr + ' * 3600';
  local quantileRate(q, by) =
    'histogram_quantile(' + q + ', ' + p.sumBy(['le'] + by, p.rate(bucket, config, runs)) + ')';
  local quantileRange(q, by) =
    'histogram_quantile(' + q + ', ' + p.sumBy(['le'] + by, p.increaseRange(bucket, config, runs)) + ')';
  local runCount = p.sumBy([], p.increaseRange('spanledger_trace_cost_usd_count', config, runs));
  local runSum = p.sumBy([], p.increaseRange('spanledger_trace_cost_usd_sum', config, runs));
  local byUseCase = [l.useCase, l.agent];
  local tokenRate(types, by) = p.sumBy(by, p.rate(tokens, config, all, l.tokenType + '=~"' + types + '"'));
  local input = 'input|cache_read|cache_write';
  local service = 'resource.service.name =~ "${service:regex}"';

  lib.dashboard.new(
    config,
    'agent-cost',
    'Agent cost per trace',
    'What each agent run costs, which runs cost the most, and where the spend rate goes. Money panels show the selected time range.',
    filters=all,
  )
  + lib.dashboard.withPanels([
    panel.row('Over the selected range'),
    panel.stat('Spend', [t.prom(p.sumBy([], p.increaseRange(cost, config, all)), instant=true)], u.usd, 'Priced spend of every category over the selected range.', w=4),
    panel.stat('Runs', [t.prom(runCount, instant=true)], u.count, 'Finished runs (local roots) over the range.', w=4, decimals=0),
    panel.stat('Mean cost per run', [t.prom(runSum + ' / ' + runCount, instant=true)], u.usd, 'Run-cost histogram sum / count over the range.', w=4),
    panel.stat('p95 cost per run', [t.prom(quantileRange('0.95', []), instant=true)], u.usd, 'Estimated from the histogram buckets (0.001 ... 100 USD): accurate to a bucket.', w=4),
    panel.stat('Cache savings', [t.prom(p.sumBy([], p.increaseRange('spanledger_cache_savings_usd_total', config, all)), instant=true)], u.usd, 'What cache reads saved against the uncached input price, over the range.', w=4),
    panel.stat('Unpriced spans', [t.prom(p.sumBy([], p.increaseRange('spanledger_unpriced_total', config, ['service', 'model'])), instant=true)], u.count, 'Spans whose usage had no price: their cost is missing from every money panel (never counted as $0).', w=4, decimals=0),

    panel.row('Cost per trace'),
    panel.timeseries('p95 cost per run by use case and agent', [t.prom(quantileRate('0.95', byUseCase), '{{' + l.useCase + '}} / {{' + l.agent + '}}')], u.usd, 'histogram_quantile over spanledger_trace_cost_usd (one observation per run, at its local root).'),
    panel.timeseries('p50 cost per run by use case and agent', [t.prom(quantileRate('0.5', byUseCase), '{{' + l.useCase + '}} / {{' + l.agent + '}}')], u.usd, 'The median run: compare with p95 for the tail.'),
    panel.table(
      'Cost per run by use case and agent, over the range',
      [
        t.prom(quantileRange('0.5', byUseCase), instant=true, format='table'),
        t.prom(quantileRange('0.95', byUseCase), instant=true, format='table'),
        t.prom(quantileRange('0.99', byUseCase), instant=true, format='table'),
        t.prom(p.sumBy(byUseCase, p.increaseRange('spanledger_trace_cost_usd_sum', config, runs)) + ' / ' + p.sumBy(byUseCase, p.increaseRange('spanledger_trace_cost_usd_count', config, runs)), instant=true, format='table'),
        t.prom(p.sumBy(byUseCase, p.increaseRange('spanledger_trace_cost_usd_count', config, runs)), instant=true, format='table'),
      ],
      u.usd,
      'Quantiles and mean of the run cost over the range, one row per use case and agent.',
      columns={ [l.useCase]: 'Use case', [l.agent]: 'Agent', 'Value #A': 'p50', 'Value #B': 'p95', 'Value #C': 'p99', 'Value #D': 'Mean', 'Value #E': 'Runs' },
      columnUnits={ Runs: u.count },
      sortBy='p95',
    ),
    panel.traceTable(
      'Most expensive runs',
      [t.traceql(
        '{ span."spanledger.trace.cost.usd" > ' + config.expensiveTraceUsd + ' && ' + service + ' }'
        + ' | select(span."spanledger.trace.cost.usd", span."spanledger.trace.cost.status", span."spanledger.use_case", span.gen_ai.agent.name, span."spanledger.trace.llm_calls", span."spanledger.trace.failed_cost.usd")',
        limit=50,
        spss=1,
      )],
      'Runs costing more than ' + config.expensiveTraceUsd + ' USD (_config.expensiveTraceUsd), from Tempo: the trace id opens the trace. The totals are on the local root span (spanledger.trace.cost.usd); status partial means some work was unpriced and the total is a lower bound. Filtered by service only.',
      usdColumns=['spanledger.trace.cost.usd', 'spanledger.trace.failed_cost.usd'],
    ),

    panel.row('Spend rate'),
    panel.timeseries('Spend rate by service (USD/h)', [t.prom(perHour(p.sumBy([l.service], p.rate(cost, config, all))), '{{' + l.service + '}}')], u.usd, 'Priced spend per hour.', w=8, stack=true),
    panel.timeseries('Spend rate by model (USD/h)', [t.prom(perHour(p.sumBy([l.provider, l.model], p.rate(cost, config, all))), '{{' + l.provider + '}} {{' + l.model + '}}')], u.usd, 'Priced spend per hour by provider and model (the id the call asked for).', w=8, stack=true),
    panel.timeseries('Spend rate by category (USD/h)', [t.prom(perHour(p.sumBy([l.category], p.rate(cost, config, all))), '{{' + l.category + '}}')], u.usd, 'llm, tool, retrieval, evaluation, human_review, external.', w=8, stack=true),

    panel.row('Tokens and cache'),
    panel.timeseries('Tokens by type (per second)', [t.prom(p.sumBy([l.tokenType], p.rate(tokens, config, all)), '{{' + l.tokenType + '}}')], u.count, 'input (uncached), output, reasoning, cache_read, cache_write.', w=8, stack=true),
    panel.timeseries(
      'Input tokens per LLM call (context growth)',
      [t.prom(
        p.sumBy([l.service], p.rate(tokens, config, svc, l.tokenType + '=~"' + input + '"'))
        + ' / ' + p.sumBy([l.service], p.rate('spanledger_operations_total', config, svc, l.category + '="llm"')),
        '{{' + l.service + '}}',
      )],
      u.count,
      'All input tokens (uncached, cache reads and writes) per LLM call. A rising line is a growing context: agents that re-send their whole history. Filtered by service only (the operations counter carries no dimensions).',
      w=8,
    ),
    panel.timeseries(
      'Cache hit ratio by model',
      [t.prom(tokenRate('cache_read', [l.model]) + ' / ' + tokenRate(input, [l.model]), '{{' + l.model + '}}')],
      u.ratio,
      'Cache-read input tokens / all input tokens.',
      w=8,
    ),
    panel.bargauge('Cache savings by model, over the range', [t.prom(p.sumBy([l.model], p.increaseRange('spanledger_cache_savings_usd_total', config, all)), '{{' + l.model + '}}', instant=true)], u.usd, 'What cache reads saved against the uncached input price.', w=8),

    panel.row('Pricing gaps and waste'),
    panel.table(
      'Unpriced spans by model, over the range',
      [t.prom(p.sumBy([l.provider, l.model, 'spanledger_cost_unpriced_reason'], p.increaseRange('spanledger_unpriced_total', config, ['service', 'model'])), instant=true, format='table')],
      u.count,
      'Spans whose usage found no price, by reason: add the model to the catalog (docs/pricing.md). Their cost is missing from the money panels.',
      w=8,
      columns={ [l.provider]: 'Provider', [l.model]: 'Model', spanledger_cost_unpriced_reason: 'Reason', Value: 'Spans' },
      sortBy='Spans',
    ),
    panel.table(
      'Approximately priced spans by model, over the range',
      [t.prom(p.sumBy([l.provider, l.model, 'spanledger_pricing_model'], p.increaseRange('spanledger_pricing_approximate_total', config, ['service', 'model'])), instant=true, format='table')],
      u.count,
      'Spans priced from a catalog entry that matched their model id only by prefix or substring: Model is the id as emitted, Priced as the entry used.',
      w=8,
      columns={ [l.provider]: 'Provider', [l.model]: 'Model', spanledger_pricing_model: 'Priced as', Value: 'Spans' },
      sortBy='Spans',
    ),
    panel.traceTable(
      'Failed-call spend (wasted)',
      [t.traceql(
        '{ span."spanledger.trace.failed_cost.usd" > 0 && ' + service + ' } | select(span."spanledger.trace.failed_cost.usd", span."spanledger.trace.cost.usd", span."spanledger.use_case", span.gen_ai.agent.name)',
        limit=50,
        spss=1,
      )],
      'No metric carries the spend of failed calls: it is the run attribute spanledger.trace.failed_cost.usd on the local root span, read here from Tempo with TraceQL. Filtered by service only.',
      w=8,
      usdColumns=['spanledger.trace.failed_cost.usd', 'spanledger.trace.cost.usd'],
    ),

    panel.row('Budgets and loops'),
    panel.timeseries(
      'Budget events (per hour)',
      [t.prom(perHour(p.sumBy(['budget', 'kind', 'action'], p.rate('spanledger_budget_events_total', config, svc))), '{{budget}} {{kind}} ({{action}})')],
      u.count,
      'Warnings and exceeded events by budget and action (the Budgets dashboard has the windows).',
    ),
    panel.traceTable(
      'Loop detections and other exceeded budgets',
      [t.traceql(
        '{ event:name = "spanledger.budget.exceeded" && ' + service + ' } | select(event."spanledger.budget.name", event."spanledger.budget.action", span.gen_ai.tool.name, span.gen_ai.agent.name)',
        limit=50,
        tableType='spans',
        spss=5,
      )],
      'Spans where a budget was exceeded. A loop detection is the exceeded event of a per-run budget with maxRepeatedToolCalls (the same tool called again and again with the same arguments, docs/budgets.md): its budget name is in the row, with the tool.',
    ),
  ])
