/**
 * Typed access to `scripts/chromium.mjs` (plain JS so that `npm test` provisions it without a
 * TypeScript loader): Debian's Chromium for the tests that open a page in a browser.
 */
import { isCI } from './tools.js';

/** What `ensureChromium` gives: the browser, or why there is none. */
export type ProvisionedBrowser =
  | { path: string; reason: string }
  | { path: undefined; reason: string };

interface ChromiumScript {
  CHROMIUM_PATH: string;
  ensureChromium(): ProvisionedBrowser;
  chromiumVersion(path?: string): string | undefined;
}

// A URL specifier keeps TypeScript from looking for declarations of the .mjs module.
const script = (await import(
  new URL('../../scripts/chromium.mjs', import.meta.url).href
)) as ChromiumScript;

export const { CHROMIUM_PATH, ensureChromium, chromiumVersion } = script;

/**
 * Chromium's path, installed if missing. Under CI=true a missing browser throws (a failure,
 * never a skip); locally it returns undefined after a warning, and the caller skips.
 */
export function requiredChromium(): string | undefined {
  const browser = ensureChromium();
  if (browser.path !== undefined) return browser.path;
  const message = `Chromium is not available: ${browser.reason}`;
  if (isCI) throw new Error(`${message} (CI=true: the browser tests cannot be skipped)`);
  console.warn(`${message}; the browser tests are skipped`);
  return undefined;
}
