/** Runs the `spanledger` command in-process through `run()`, collecting what it prints. */
import { run } from '../../src/cli/run.js';

/** What one run printed, and its exit code. */
export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** `spanledger ...argv`, in-process. */
export async function cli(...argv: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
  });
  return { code, stdout, stderr };
}
