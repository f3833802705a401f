/**
 * The `spanledger` command: dispatch to a subcommand and turn its failures into exit codes.
 * Kept apart from `main.ts` (which only binds it to the process) so tests run it in-process.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../pricing/config.js';
import { type CliIO, EXIT, UsageError } from './args.js';
import { BUDGETS_USAGE, runBudgets } from './budgets.js';
import { DEMO_USAGE, runDemo } from './demo.js';
import { PRICE_USAGE, runPrice } from './price.js';
import { PRICES_USAGE, runPrices } from './prices.js';
import { RECONCILE_USAGE, runReconcile } from './reconcile.js';
import { REPORT_USAGE, runReport } from './report.js';
import { runShowback, SHOWBACK_USAGE } from './showback.js';

export type { CliIO } from './args.js';

interface Command {
  summary: string;
  usage: string;
  run: (argv: string[], io: CliIO) => Promise<number>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  price: {
    summary: 'price one model call (tokens by type) from the catalog and a prices file',
    usage: PRICE_USAGE,
    run: runPrice,
  },
  prices: {
    summary: 'show the price card in force for a model; check what a prices file resolves to',
    usage: PRICES_USAGE,
    run: runPrices,
  },
  budgets: {
    summary: 'budget windows (spent, burn rate, time to exhaustion); pause and resume a scope',
    usage: BUDGETS_USAGE,
    run: runBudgets,
  },
  report: {
    summary: 'what exported spans cost: per trace, per dimension, unpriced work, budget events',
    usage: REPORT_USAGE,
    run: runReport,
  },
  showback: {
    summary: 'chargeback rows (table, CSV, JSON, FOCUS) from the cost counters in Prometheus',
    usage: SHOWBACK_USAGE,
    run: (argv, io) => runShowback(argv, io),
  },
  reconcile: {
    summary:
      'estimates in Prometheus against provider bills: drift per day and model (docs/finance.md)',
    usage: RECONCILE_USAGE,
    run: (argv, io) => runReconcile(argv, io),
  },
  demo: {
    summary: 'run the example support agent against a mock OpenAI API; what it cost (docs/demo.md)',
    usage: DEMO_USAGE,
    run: runDemo,
  },
};

/** Top-level help: every command with a one-line summary. */
export const USAGE = `Usage: spanledger <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(11)}${c.summary}`)
  .join('\n')}
  help       show this help, or a command's: spanledger help price

Options:
  -h, --help     show help
  -v, --version  print the version

Run 'spanledger <command> --help' for a command's options.
`;

function version(): string {
  // src/cli/run.ts and the bundled dist/cli/main.js sit at the same depth below package.json.
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    return 'unknown';
  }
}

/**
 * Run the CLI with `argv` (the arguments after the program name) and return the exit code:
 * 0 success, 1 invalid input file or internal error, 2 bad command line. Never throws and never
 * touches `process`, so it can be called in-process by tests.
 */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(USAGE);
    return EXIT.usage;
  }
  if (name === '-h' || name === '--help') {
    io.stdout(USAGE);
    return EXIT.ok;
  }
  if (name === 'help') {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    if (rest[0] !== undefined && !topic) {
      io.stderr(`spanledger: unknown command '${rest[0]}'\n\n${USAGE}`);
      return EXIT.usage;
    }
    io.stdout(topic ? topic.usage : USAGE);
    return EXIT.ok;
  }
  if (name === '-v' || name === '--version') {
    io.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  // Own-property lookup only: `spanledger constructor` must not find Object.prototype members.
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`spanledger: unknown command '${name}'\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      // The error and the synopsis, not the whole help: the message is what needs reading.
      const synopsis = command.usage.split('\n')[0];
      io.stderr(
        `spanledger ${name}: ${e.message}\n${synopsis}\nRun 'spanledger ${name} --help' for all options.\n`,
      );
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      // Its message already names the file, the entry and the reason.
      io.stderr(`${e.message}\n`);
      return EXIT.config;
    }
    // A bug, not a user error: keep the stack so it can be reported.
    io.stderr(
      `spanledger ${name}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return EXIT.config;
  }
}
