/**
 * scripts/catalog-diff.mjs, the upgrade aid of docs/pricing.md ("Updating the catalog"): the
 * diff itself, on two small catalogs (the script's install step is plain `npm install`).
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations.
import { diffCatalogs } from '../../scripts/catalog-diff.mjs';

const model = (id: string, prices: unknown, match: unknown = { equals: id }) => ({
  id,
  match,
  prices,
});

describe('diffCatalogs', () => {
  it('lists added and removed models, match changes and every changed price per period', () => {
    const before = [
      {
        id: 'p',
        models: [
          model('same', { input_mtok: 1 }),
          model('gone', { input_mtok: 1 }),
          model('flat', { input_mtok: 1, output_mtok: 2 }, { starts_with: 'flat' }),
          model('dated', [
            { prices: { input_mtok: 10 } },
            {
              constraint: { type: 'start_date', start_date: '2025-06-10' },
              prices: { input_mtok: 2 },
            },
          ]),
        ],
      },
    ];
    const after = [
      {
        id: 'p',
        models: [
          model('same', { input_mtok: 1 }),
          model('new', { input_mtok: 3 }),
          model(
            'flat',
            { input_mtok: { base: 1, tiers: [{ start: 200000, price: 2 }] }, output_mtok: 2 },
            { equals: 'flat' },
          ),
          model('dated', [
            { prices: { input_mtok: 10 } },
            {
              constraint: { type: 'start_date', start_date: '2025-06-10' },
              prices: { input_mtok: 2, cache_read_mtok: 0.5 },
            },
            {
              constraint: { type: 'time_of_date', start_time: '00:30:00Z', end_time: '16:30:00Z' },
              prices: { input_mtok: 4 },
            },
          ]),
        ],
      },
    ];
    expect(diffCatalogs(before, after)).toEqual([
      '+ p/new',
      '- p/gone',
      '~ p/dated [daily 00:30:00Z-16:30:00Z] input_mtok: (none) -> 4',
      '~ p/dated [from 2025-06-10] cache_read_mtok: (none) -> 0.5',
      '~ p/flat [always] input_mtok: 1 -> 1 (>200000: 2)',
      '~ p/flat match: {"starts_with":"flat"} -> {"equals":"flat"}',
    ]);
  });

  it('finds nothing between a catalog and itself', () => {
    const c = [{ id: 'p', models: [model('m', { input_mtok: 1 })] }];
    expect(diffCatalogs(c, c)).toEqual([]);
  });
});
