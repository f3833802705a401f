/**
 * The budget metrics (fixed names, docs/conventions.md): gauges `spanledger.budget.limit.usd` and
 * `spanledger.budget.spent.usd` per budget and window, `spanledger.budget.paused` per budget,
 * counter `spanledger.budget.events` by
 * budget, kind and action. The budget engine declares what it needs (`BudgetInstruments`); this is
 * the implementation the ledger hands it.
 */
import type { Counter } from '@opentelemetry/api';
import type { BudgetEvent, BudgetInstruments, WindowSnapshot } from '../budgets/signals.js';
import { MeterSource } from './meter-source.js';

/** Budget instruments on the meter of a {@link MeterSource}, bound at the first budget
 * activity (by then a NodeSDK has registered its global provider). */
export class BudgetMetrics implements BudgetInstruments {
  private source: () => Iterable<WindowSnapshot> = () => [];
  private pauses: (() => Promise<ReadonlyMap<string, number>>) | undefined;
  private readonly events: () => Counter | undefined;

  constructor(meters: MeterSource = new MeterSource()) {
    this.events = meters.bind((meter) => {
      const limit = meter.createObservableGauge('spanledger.budget.limit.usd', {
        unit: '{USD}',
        description: 'USD limit of each budget window',
      });
      const spent = meter.createObservableGauge('spanledger.budget.spent.usd', {
        unit: '{USD}',
        description: 'Last known spend of each budget window',
      });
      meter.addBatchObservableCallback(
        (result) => {
          for (const w of this.source()) {
            const attrs = { budget: w.budget, window: w.window };
            result.observe(limit, w.limitUsd, attrs);
            result.observe(spent, w.spentUsd, attrs);
          }
        },
        [limit, spent],
      );
      const paused = meter.createObservableGauge('spanledger.budget.paused', {
        unit: '{scope}',
        description: 'Paused scopes of each budget, as the budget ledger holds them',
      });
      paused.addCallback(async (result) => {
        if (this.pauses === undefined) return;
        try {
          for (const [budget, n] of await this.pauses()) result.observe(n, { budget });
        } catch {
          // The ledger's store did not answer: no figure this time rather than a wrong one.
        }
      });
      return meter.createCounter('spanledger.budget.events', {
        unit: '{event}',
        description: 'Budget warnings and exceeded events',
      });
    });
  }

  event(e: BudgetEvent): void {
    this.events()?.add(1, { budget: e.budget, kind: e.kind, action: e.action });
  }

  observePauses(pauses: () => Promise<ReadonlyMap<string, number>>): void {
    this.pauses = pauses;
    this.events();
  }

  observeWindows(windows: () => Iterable<WindowSnapshot>): void {
    this.source = windows;
    // Binds the gauges' callback once a real meter exists.
    this.events();
  }
}
