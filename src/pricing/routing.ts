/**
 * Routing counterfactuals: for an LLM call, the cheaper models it could have been routed to
 * (the prices file's `routing:` section, by model called and by use case). The price book
 * prices the same usage on each; the processor counts the results in
 * `spanledger.cost.alternative.usd` (docs/pricing.md, "Routing counterfactuals"). The lookups
 * here run on every priced LLM span when routing is configured, so they are map reads, with the
 * merged lists cached.
 */
import { alternativeLabel, type RoutingAlternative, type RoutingConfig } from './config.js';

/** One alternative, ready to price. */
export interface Alternative {
  /** The value of `spanledger.alternative.model`: the model id, or `provider/model`. */
  readonly label: string;
  /** Provider to price it as (undefined: the catalog finds the model's maker). */
  readonly provider: string | undefined;
  readonly model: string;
  /** The entry it resolves to (set by the price book once resolved): a call already made on
   * that entry has no alternative in it. */
  entryModel?: string;
  /** The price book's resolution of it, kept here so the span path looks nothing up. */
  resolution?: unknown;
}

const NONE: readonly Alternative[] = [];

function toAlternative(a: RoutingAlternative): Alternative {
  return typeof a === 'string'
    ? { label: alternativeLabel(a), provider: undefined, model: a }
    : { label: alternativeLabel(a), provider: a.provider, model: a.model };
}

/** The configured alternatives, indexed by model (lower case) and by use case. */
export class Routing {
  /** Whether the alternatives' costs are also written on spans. */
  readonly onSpans: boolean;
  private readonly byModel = new Map<string, Alternative[]>();
  private readonly byUseCase = new Map<string, Alternative[]>();
  /** Merged lists for a (model list, use-case list) pair that are both configured. */
  private readonly merged = new Map<Alternative[], Map<Alternative[], Alternative[]>>();

  constructor(config: RoutingConfig) {
    this.onSpans = config.onSpans === true;
    for (const [model, list] of Object.entries(config.models ?? {})) {
      this.byModel.set(model.toLowerCase(), list.map(toAlternative));
    }
    for (const [useCase, list] of Object.entries(config.useCases ?? {})) {
      this.byUseCase.set(useCase, list.map(toAlternative));
    }
  }

  /** Every alternative, with where it is configured (for validation and the CLI). */
  *entries(): Generator<[path: string, alternative: Alternative]> {
    for (const [model, list] of this.byModel) {
      for (let i = 0; i < list.length; i++) {
        yield [`routing.models.${model}[${i}]`, list[i] as Alternative];
      }
    }
    for (const [useCase, list] of this.byUseCase) {
      for (let i = 0; i < list.length; i++) {
        yield [`routing.useCases.${useCase}[${i}]`, list[i] as Alternative];
      }
    }
  }

  /**
   * The alternatives of a call: those of its model (the catalog entry that priced it, else the
   * id as emitted), then those of its use case not already listed.
   */
  alternativesFor(
    entryModel: string | undefined,
    emittedModel: string | undefined,
    useCase: string | undefined,
  ): readonly Alternative[] {
    let byModel: Alternative[] | undefined;
    if (this.byModel.size > 0) {
      if (entryModel !== undefined) byModel = this.byModel.get(entryModel.toLowerCase());
      if (byModel === undefined && emittedModel !== undefined) {
        byModel = this.byModel.get(emittedModel.toLowerCase());
      }
    }
    const byUseCase = useCase === undefined ? undefined : this.byUseCase.get(useCase);
    if (byUseCase === undefined) return byModel ?? NONE;
    if (byModel === undefined) return byUseCase;
    let inner = this.merged.get(byModel);
    if (inner === undefined) {
      inner = new Map();
      this.merged.set(byModel, inner);
    }
    let list = inner.get(byUseCase);
    if (list === undefined) {
      const labels = new Set(byModel.map((a) => a.label.toLowerCase()));
      list = [...byModel, ...byUseCase.filter((a) => !labels.has(a.label.toLowerCase()))];
      inner.set(byUseCase, list);
    }
    return list;
  }
}
