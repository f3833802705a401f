/** The scripted OpenAI API on loopback: its base URL (ending in `/v1`) and `close()`. */
export function startMockProvider(port?: number): Promise<{ url: string; close(): Promise<void> }>;
