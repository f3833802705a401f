/**
 * The meter spanledger records on. An explicit provider is used as given. Otherwise the global
 * provider is looked up again until a real one is registered: a ledger is usually created before
 * `NodeSDK.start()` registers the global provider (its processor goes into the SDK's
 * configuration), and instruments taken from the no-op provider at that point would drop every
 * measurement.
 */
import { createNoopMeter, type Meter, type MeterProvider, metrics } from '@opentelemetry/api';

const NoopMeter = createNoopMeter().constructor;

/** Resolves the meter; `bind` builds things from it and rebuilds them when it changes. */
export class MeterSource {
  private meter: Meter | undefined;
  private settled: boolean;

  constructor(provider?: MeterProvider) {
    this.settled = provider !== undefined;
    if (provider !== undefined) this.meter = provider.getMeter('spanledger');
  }

  /** The current meter (the no-op one until a global provider is registered). */
  get(): Meter {
    if (this.settled && this.meter !== undefined) return this.meter;
    const meter = metrics.getMeterProvider().getMeter('spanledger');
    if (meter.constructor !== NoopMeter) this.settled = true;
    this.meter = meter;
    return meter;
  }

  /** A getter of `make(meter)`, rebuilt when the meter changes (once, when the global provider
   * is registered); `make` runs at most once per meter. Undefined while the meter is the no-op
   * one: recording on it would build every measurement's attributes for nothing. */
  bind<T>(make: (meter: Meter) => T): () => T | undefined {
    let made: T | undefined;
    let from: Meter | undefined;
    return () => {
      const meter = this.get();
      if (meter !== from) {
        from = meter;
        made = meter.constructor === NoopMeter ? undefined : make(meter);
      }
      return made;
    };
  }
}
