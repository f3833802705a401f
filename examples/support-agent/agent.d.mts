/** What one run returns: the answer, or why it failed. */
export interface RunResult {
  reply?: string;
  score?: number;
  reviewed?: boolean;
  error?: string;
  /** Set when a budget refused a call of the run. */
  refused?: { budget: string; limit: string; used?: number; max?: number };
}

/** The agent: `run(ticket)` answers one ticket under an `invoke_agent` span. */
export interface SupportAgent {
  run(ticket: string, options?: { model?: string }): Promise<RunResult>;
}

/** Create the agent around an OpenAI client and, for budgets, a ledger (its `guard`). */
export function createSupportAgent(options: {
  openai: unknown;
  ledger?: { guard<T>(fn: () => Promise<T>, options: object): Promise<T> } | undefined;
  model?: string;
  judgeModel?: string;
  maxSteps?: number;
}): SupportAgent;
