/** Assertions on configuration errors, shared by the configuration tests. */
import { expect } from 'vitest';
import { ConfigError } from '../../src/config-file.js';

/** The message of the ConfigError `fn` throws; fails the test when it throws nothing else. */
export function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}
