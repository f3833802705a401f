import { defineConfig } from 'vitest/config';

// Two projects (select one with `vitest run --project unit`):
// - `unit`: fast, self-contained tests;
// - `integration`: tests that start real components (Redis, the collector, Prometheus) or drive
//   the examples end to end. They live under `test/integration/` or `test/e2e/`.
// `npm test` runs both on Node 24 against OpenTelemetry JS 3.x and again on Node 20 against 2.x
// (scripts/test.mjs).
const integration = ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: integration },
      },
      {
        extends: true,
        // Provisioning real components (downloads, builds) can take minutes on a cold machine.
        test: { name: 'integration', include: integration, hookTimeout: 900_000 },
      },
    ],
  },
});
