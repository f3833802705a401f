/**
 * The demo's workload: which tenant, team and use case each run is, its ticket and its model,
 * drawn from a seed so the same seed gives the same runs (and the same report).
 */

/** A model no catalog prices: its spans stay unpriced (never $0) and its runs `partial`. */
export const SELF_HOSTED_MODEL = 'northwind-sales-13b';

/** An order the tool cannot find: the mock model looks it up again and again (a runaway). */
export const MISSING_ORDER = '4040';

/** One kind of run: a use case, the team that owns it, its model and tickets. */
interface Kind {
  kind: 'support' | 'refund' | 'triage' | 'sales';
  useCase: string;
  team: string;
  costCenter: string;
  model: string;
  tickets: readonly string[];
  weight: number;
}

const KINDS: readonly Kind[] = [
  {
    kind: 'support',
    useCase: 'support-ticket',
    team: 'customer-care',
    costCenter: 'cc-4100',
    model: 'gpt-4o',
    tickets: ['Where is my order #{order}?', 'Has order #{order} shipped yet?'],
    weight: 45,
  },
  {
    kind: 'refund',
    // The judge is unsure of refund answers (the mock scores them 0.4): each gets a human review.
    useCase: 'refund-request',
    team: 'billing',
    costCenter: 'cc-4200',
    model: 'gpt-4o',
    tickets: ['Order #{order} arrived broken, I want a refund.'],
    weight: 15,
  },
  {
    kind: 'triage',
    useCase: 'order-triage',
    team: 'logistics',
    costCenter: 'cc-4300',
    model: 'gpt-4o-mini',
    tickets: ['Triage: order #{order} has not moved for a week.'],
    weight: 25,
  },
  {
    kind: 'sales',
    useCase: 'sales-assist',
    team: 'sales',
    costCenter: 'cc-5100',
    model: SELF_HOSTED_MODEL,
    tickets: ['Can I add two more seats to order #{order}?'],
    weight: 15,
  },
];

const TENANTS: readonly (readonly [string, number])[] = [
  ['acme', 40],
  ['globex', 30],
  ['initech', 20],
  ['umbrella', 10],
];
const ORDERS = ['1001', '1002', '1003'];

/** One planned run. */
export interface PlannedRun {
  /** 1-based position in the workload. */
  run: number;
  kind: Kind['kind'] | 'runaway';
  tenant: string;
  team: string;
  costCenter: string;
  useCase: string;
  model: string;
  ticket: string;
}

/** The fewest runs: one of each kind, and the runaway. */
export const MIN_RUNS = KINDS.length + 1;

/** A small seeded PRNG (mulberry32): uniform in [0, 1), the same sequence for the same seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weighted<T>(next: () => number, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let x = next() * total;
  for (const [item, w] of items) {
    x -= w;
    if (x < 0) return item;
  }
  return (items[items.length - 1] as readonly [T, number])[0];
}

/**
 * `runs` runs (at least {@link MIN_RUNS}) from `seed`: each kind of run at least once, then
 * kinds by weight; tenants by weight; exactly one runaway, a support ticket about an order that
 * does not exist, at a seeded position.
 */
export function planWorkload(runs: number, seed: number): PlannedRun[] {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const kinds: Kind[] = [...KINDS];
  while (kinds.length < runs - 1)
    kinds.push(
      weighted(
        next,
        KINDS.map((k) => [k, k.weight]),
      ),
    );
  // Shuffle (Fisher-Yates), so the guaranteed kinds are not always first.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j] as Kind, kinds[i] as Kind];
  }
  const runaway = Math.floor(next() * runs);
  const out: PlannedRun[] = [];
  for (let i = 0; i < runs; i++) {
    const tenant = weighted(next, TENANTS);
    if (i === runaway) {
      const k = KINDS[0] as Kind;
      out.push({
        run: i + 1,
        kind: 'runaway',
        tenant,
        team: k.team,
        costCenter: k.costCenter,
        useCase: k.useCase,
        model: k.model,
        ticket: `Where is my order #${MISSING_ORDER}? The tracking page says not found.`,
      });
      continue;
    }
    const k = kinds.shift() as Kind;
    out.push({
      run: i + 1,
      kind: k.kind,
      tenant,
      team: k.team,
      costCenter: k.costCenter,
      useCase: k.useCase,
      model: k.model,
      ticket: pick(k.tickets).replace('{order}', pick(ORDERS)),
    });
  }
  return out;
}
