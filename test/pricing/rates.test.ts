import { describe, expect, it } from 'vitest';
import {
  breakdownTotal,
  pricesTokens,
  priceTokens,
  rateCardFromCatalog,
} from '../../src/pricing/rates.js';

const zero = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
};

describe('rateCardFromCatalog', () => {
  it('keeps token prices, turns a per-1000-requests fee into USD per call', () => {
    const card = rateCardFromCatalog({ input_mtok: 1, output_mtok: 1, requests_kcount: 12 });
    expect(card).toEqual({ fastPath: true, input: 1, output: 1, perRequestUsd: 0.012 });
  });

  it('sorts tiers the way the catalog does before use', () => {
    const card = rateCardFromCatalog({
      input_mtok: {
        base: 1,
        tiers: [
          { start: 500_000, price: 3 },
          { start: 200_000, price: 2 },
        ],
      },
    });
    expect(card.input).toEqual({
      base: 1,
      tiers: [
        { start: 200_000, price: 2 },
        { start: 500_000, price: 3 },
      ],
    });
    expect(
      priceTokens(card, { ...zero, inputTokens: 600_000 }, 1, 0).breakdown.inputUsd,
    ).toBeCloseTo(1.8, 12);
  });

  it('flags units it does not compute, per-audio-hour prices and free entries', () => {
    expect(rateCardFromCatalog({ input_mtok: 1, input_audio_mtok: 6 }).fastPath).toBe(false);
    expect(rateCardFromCatalog({ input_mtok: 1, web_searches_kcount: 10 }).fastPath).toBe(true);
    const whisper = rateCardFromCatalog({ audio_hours: 0.36, input_audio_hours: 0.36 });
    expect(whisper).toMatchObject({ fastPath: false, pricesDuration: true });
    expect(pricesTokens(whisper)).toBe(false);
    expect(rateCardFromCatalog({}).free).toBe(true);
  });
});

describe('priceTokens', () => {
  const sonnet = rateCardFromCatalog({
    input_mtok: 3,
    output_mtok: 15,
    cache_read_mtok: 0.3,
    cache_write_mtok: 3.75,
    cache_write_1h_mtok: 6,
  });

  it('treats cache reads and writes as parts of the input count', () => {
    const { breakdown, savingsUsd } = priceTokens(
      sonnet,
      {
        inputTokens: 100_000,
        outputTokens: 10_000,
        cacheReadTokens: 60_000,
        cacheWriteTokens: 20_000,
        cacheWrite1hTokens: 5_000,
      },
      1,
      0,
    );
    expect(breakdown.inputUsd).toBeCloseTo(0.06, 12);
    expect(breakdown.cacheReadUsd).toBeCloseTo(0.018, 12);
    expect(breakdown.cacheWriteUsd).toBeCloseTo(15_000 * 3.75e-6 + 5_000 * 6e-6, 12);
    expect(breakdown.outputUsd).toBeCloseTo(0.15, 12);
    expect(breakdownTotal(breakdown)).toBeCloseTo(0.06 + 0.018 + 0.05625 + 0.03 + 0.15, 12);
    expect(savingsUsd).toBeCloseTo(60_000 * 2.7e-6, 12);
  });

  it('prices 1-hour writes at the 5-minute rate when the model has no 1-hour price', () => {
    const card = rateCardFromCatalog({ input_mtok: 3, cache_write_mtok: 3.75 });
    const r = priceTokens(
      card,
      { ...zero, inputTokens: 10_000, cacheWriteTokens: 10_000, cacheWrite1hTokens: 4_000 },
      1,
      0,
    );
    expect(r.breakdown.cacheWriteUsd).toBeCloseTo(0.0375, 12);
  });

  it('prices cache reads as input when the model has no cache price (no savings)', () => {
    const card = rateCardFromCatalog({ input_mtok: 2, output_mtok: 8 });
    const r = priceTokens(card, { ...zero, inputTokens: 10_000, cacheReadTokens: 9_000 }, 1, 0);
    expect(r.breakdown.inputUsd).toBeCloseTo(0.02, 12);
    expect(r.breakdown.cacheReadUsd).toBe(0);
    expect(r.savingsUsd).toBe(0);
  });

  it('applies the multiplier to every component, fees and seconds included', () => {
    const card = { fastPath: true, input: 1, output: 2, perRequestUsd: 0.01, perSecondUsd: 0.001 };
    const r = priceTokens(card, { ...zero, inputTokens: 1e6, outputTokens: 1e6 }, 0.5, 10);
    expect(r.breakdown).toEqual({
      inputUsd: 0.5,
      outputUsd: 1,
      cacheReadUsd: 0,
      cacheWriteUsd: 0,
      otherUsd: 0.01,
    });
  });
});
