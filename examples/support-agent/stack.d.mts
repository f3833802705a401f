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

/** Send one ticket through the edge. */
export function sendTicket(
  edgeUrl: string,
  tenant: string,
  ticket: string,
): Promise<{
  status: number;
  body: { reply?: string; reviewed?: boolean; score?: number; error?: string };
}>;

/** The example's tickets: [tenant, text]. Refund requests go to human review. */
export const TICKETS: readonly (readonly [tenant: string, ticket: string])[];
