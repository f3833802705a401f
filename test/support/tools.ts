/**
 * Typed access to `scripts/tools.mjs` (plain JS so that `npm test` runs it without a TypeScript
 * loader): tools installed once from the npm registry into `.tools/`.
 */

interface ToolsScript {
  OPENAI7_VERSION: string;
  ensureNode24(): string | undefined;
  ensureOpenAI7(): string | undefined;
}

// A URL specifier keeps TypeScript from looking for declarations of the .mjs module.
const script = (await import(
  new URL('../../scripts/tools.mjs', import.meta.url).href
)) as ToolsScript;

/** The exact openai 7 release the tests install and are verified against. */
export const OPENAI7_VERSION = script.OPENAI7_VERSION;

/** The Node 24 binary under `.tools/node24`, installed if missing; undefined if impossible. */
export const ensureNode24 = (): string | undefined => script.ensureNode24();

/** The `openai` 7 package directory under `.tools/openai7`, installed if missing; undefined if
 * impossible. */
export const ensureOpenAI7 = (): string | undefined => script.ensureOpenAI7();

/** Whether this run is CI (`CI=true`): there a missing tool fails the test instead of skipping. */
export const isCI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
