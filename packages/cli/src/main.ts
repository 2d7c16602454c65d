// The `lzy` command line: one file per command under commands/.
import { Command, CommanderError } from 'commander';
import { CliError, EXIT } from './cli-error.js';
import { agentCommand } from './commands/agent.js';
import { cancelCommand } from './commands/cancel.js';
import { clientsCommand } from './commands/clients.js';
import { keysCommand } from './commands/keys.js';
import { loginCommand } from './commands/login.js';
import { logsCommand } from './commands/logs.js';
import { rolesCommand } from './commands/roles.js';
import { runCommand } from './commands/run.js';
import { serverCommand } from './commands/server.js';
import { statusCommand } from './commands/status.js';
import { tokenCommand } from './commands/token.js';
import { uiCommand } from './commands/ui.js';
import { whiteboardsCommand } from './commands/whiteboards.js';
import { whoamiCommand } from './commands/whoami.js';

/** Commands that go on running when nobody reads their stdout: their output there is only notes. */
const SERVICES = new Set(['server', 'ui', 'agent']);
/** Commands that go on serving once their action has returned. */
const SERVING = new Set(['server', 'ui']);

const program = new Command('lzy').description('Lzy: run workflows of TypeScript ops on an embedded or a shared runtime');
for (const command of [serverCommand(), uiCommand(), agentCommand(), runCommand(), statusCommand(), logsCommand(), cancelCommand(), whiteboardsCommand(), tokenCommand(), rolesCommand(), whoamiCommand(), clientsCommand(), keysCommand(), loginCommand()]) program.addCommand(command);
reportUsageErrors(program);
endQuietlyWhenTheReaderLeaves();

try {
  await program.parseAsync();
  // `lzy server` and `lzy ui` go on serving (and `lzy agent` has stopped); every other command is done.
  if (!SERVING.has(program.args[0] ?? '')) await exit(EXIT.ok);
} catch (error) {
  await exit(report(error));
}

/** Commander's own errors (an unknown option, a missing argument) as one line plus a hint, for every command. */
function reportUsageErrors(command: Command, path = 'lzy'): void {
  command
    .exitOverride()
    .showSuggestionAfterError(false)
    .showHelpAfterError(`hint: see \`${path} --help\``)
    .configureOutput({ outputError: (text, write) => write(`lzy: ${text}`) });
  for (const sub of command.commands) reportUsageErrors(sub, `${path} ${sub.name()}`);
}

/**
 * A reader that leaves early (`lzy logs WF | head -1`) is no failure: once a write to stdout or
 * stderr finds the pipe closed (EPIPE), a command exits 0 at once, printing nothing, as it would
 * have died of SIGPIPE had Node not ignored it. A service (`lzy server`, `lzy agent`) goes on:
 * what it prints is only notes, and its output is dropped from then on.
 */
function endQuietlyWhenTheReaderLeaves(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      if (!SERVICES.has(program.args[0] ?? '')) process.exit(EXIT.ok);
    });
  }
}

/** Prints a failure as one line plus a hint; returns the exit code. */
function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed the message (and the hint) already; help and --version are no failures.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof CliError) {
    process.stderr.write(`lzy: error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
    return error.exitCode;
  }
  const { message, code } = error as Error & { code?: string };
  process.stderr.write(`lzy: error: ${message ?? String(error)}\n${hintFor(code)}`);
  return EXIT.failure;
}

function hintFor(code: string | undefined): string {
  switch (code) {
    case 'NOT_FOUND':
      return 'hint: `lzy status` lists the runs of your tenant\n';
    case 'FORBIDDEN':
      return "hint: `lzy whoami` shows your roles; an owner of your tenant grants one with `lzy roles grant`, the server's admin (DATA_DIR/admin.token) may do anything\n";
    case 'TIMEOUT':
    case 'UNREACHABLE':
      return 'hint: is `lzy server` running? check --endpoint or LZY_ENDPOINT\n';
    default:
      return code ? `hint: error code ${code}\n` : '';
  }
}

/** Exits once stdout and stderr are flushed (the runtime or a connection may still hold the event loop). */
function exit(code: number): Promise<never> {
  return new Promise(() => process.stdout.write('', () => process.stderr.write('', () => process.exit(code))));
}
