/**
 * Shared test fixtures: a priced gpt-4o chat span's attributes with its exact cost, and the
 * async context manager every Node service registers (NodeSDK does).
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll } from 'vitest';

// The chat fixtures live apart from vitest, for the workers that tests start as processes.
export { CHAT, CHAT_USD, gpt4oChat, gpt4oUsd } from './chat.js';

/** Register an AsyncLocalStorage context manager for the file's tests (checks and guarded calls
 * find their run through the active context). */
export function useContextManager(): void {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    manager.disable();
    context.disable();
  });
}
