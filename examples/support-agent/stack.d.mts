/** The running example: the edge and agent URLs, and `stop()` (flushes and stops all). */
export interface Stack {
  edgeUrl: string;
  agentUrl: string;
  stop(): Promise<void>;
}

/** Start the mock provider, the agent and the edge; both services export to `otlpEndpoint`. */
export function startStack(options: {
  otlpEndpoint: string;
  env?: Record<string, string>;
}): Promise<Stack>;

/** Send one ticket through the edge, optionally naming the model of its LLM-as-judge call. */
export function sendTicket(
  edgeUrl: string,
  tenant: string,
  ticket: string,
  judgeModel?: string,
): Promise<{
  status: number;
  body: { reply?: string; reviewed?: boolean; score?: number; error?: string };
}>;

/** The example's tickets: [tenant, text]. Refund requests go to human review. */
export const TICKETS: readonly (readonly [tenant: string, ticket: string])[];

/** Tickets judged on an approximately priced fine-tune and on an unpriced model, and one of a
 * trial tenant whose budget pauses it: [tenant, text, judge model?]. */
export const EXTRA_TICKETS: readonly (readonly [
  tenant: string,
  ticket: string,
  judgeModel?: string,
])[];
