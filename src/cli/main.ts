/**
 * Entry point of the `spanledger` binary (bundled to dist/cli/main.js with a shebang). Binds
 * {@link run} to the process and nothing else, so every behaviour is testable in-process.
 */
import { run } from './run.js';

// `spanledger price ... | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

// exitCode, not exit(): exit() can cut off output still being flushed to a pipe.
process.exitCode = await run(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  color: process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === '',
});
