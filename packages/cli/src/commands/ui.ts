import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { DataDirHeldError, Runtime } from '@lzy/runtime';
import { CliError } from '../cli-error.js';
import { parsePort } from '../port-option.js';
import { ensureTokenFile } from '../token-file.js';

interface UiOptions {
  host: string;
  port: string;
  dataDir: string;
}

/** The tenant of the embedded runtime's programs, whose runs `lzy ui` shows. */
const LOCAL_TENANT = 'local';

/**
 * `lzy ui`: the dashboard of the embedded runtime of a data dir. It runs that runtime (programs
 * started in the folder meanwhile join it) and prints the page's address with a sign-in link.
 */
export function uiCommand(): Command {
  return new Command('ui')
    .description("serve the dashboard of the embedded runtime's data dir; programs run in the folder meanwhile join it")
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: a free one)', '8090')
    .addOption(new Option('--data-dir <dir>', 'the embedded runtime\'s data dir').env('LZY_HOME').default('./.lzy'))
    .action((options: UiOptions) => serveUi(options));
}

async function serveUi(options: UiOptions): Promise<void> {
  const port = parsePort(options.port);
  const dataDir = resolve(options.dataDir);
  const note = (text: string) => process.stderr.write(`lzy ui: ${text}\n`);
  const runtime = await Runtime.start({ dataDir, host: options.host, port, dashboard: true }).catch((error: unknown) => {
    if (!(error instanceof DataDirHeldError)) throw error;
    throw new CliError(error.message, 'start `lzy ui` first, then run programs in the folder: they join its runtime');
  });
  // The sign-in link carries the token in the URL's fragment, which the browser never sends.
  const { token } = await ensureTokenFile(runtime, join(dataDir, 'ui.token'), LOCAL_TENANT, 'admin', note);
  process.stdout.write(`lzy ui on ${runtime.url.replace(/^ws/, 'http')}/ui/#token=${token}\n`);
  note(`the token is also in ${join(dataDir, 'ui.token')} (mode 0600); Ctrl-C stops the runtime`);
  const stop = async () => {
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
