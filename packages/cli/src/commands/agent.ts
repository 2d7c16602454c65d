import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { CliError, EXIT, usageError } from '../cli-error.js';
import { checkLogLevel, LOG_LEVELS, prettyOnTerminal } from '../server-log.js';

interface AgentOptions {
  server: string;
  pool: string;
  token: string;
  slots: string;
  nodeModules?: string;
  logLevel: string;
}

/** Exit codes of a node-agent process (see @lzy/node-agent): 0 released or stopped, 2 usage, 3 refused. */
const AGENT_EXIT = { ok: 0, usage: 2, refused: 3 } as const;
/** Longest wait before starting a node-agent again after it lost the server or failed. */
const MAX_BACKOFF_MS = 30_000;

const agentMain = fileURLToPath(new URL('./main.js', import.meta.resolve('@lzy/node-agent')));

/**
 * `lzy agent`: makes this host a node of a static pool of `lzy server`. A small supervisor: it runs
 * one node-agent process at a time, in a fresh working directory. Each node-agent joins the pool as
 * a new node, serves the one tenant the pool leases it to, and exits when released; then a fresh
 * one joins, so nothing of one tenant's work is left for the next.
 */
export function agentCommand(): Command {
  return new Command('agent')
    .description('join a static pool of a shared runtime as a node; run one on each host that should run ops')
    .requiredOption('--server <url>', 'the runtime, ws://HOST:PORT')
    .requiredOption('--pool <name>', 'the static pool to join')
    .addOption(
      new Option('--token <token>', "the pool's join token (`lzy token create --agent --pool NAME`)").env('LZY_JOIN_TOKEN').makeOptionMandatory(),
    )
    .option('--slots <n>', 'ops this node runs at once', String(availableParallelism()))
    .option(
      '--node-modules <dir>',
      'a node_modules folder on this host: packages that op bundles leave out (those with native addons) are imported from there',
    )
    .option('--log-level <level>', `what the node-agent logs (JSON lines on stderr, readable on a terminal, with its node, tenant and attempt ids): ${LOG_LEVELS.join(', ')}`, 'info')
    .action((options: AgentOptions) => supervise(options));
}

async function supervise(options: AgentOptions): Promise<void> {
  if (!/^wss?:\/\/[^/\s]+/.test(options.server)) throw usageError(`bad --server ${options.server}`, 'the runtime as ws://HOST:PORT');
  const slots = Number(options.slots);
  if (!Number.isInteger(slots) || slots < 1 || slots > 1024) throw usageError(`bad --slots ${options.slots}`, 'an integer from 1 to 1024');
  const nodeModules = options.nodeModules === undefined ? undefined : nodeModulesDir(options.nodeModules);
  checkLogLevel(options.logLevel);
  // The node-agents' JSON log lines, readable on a terminal; as they are otherwise.
  const pretty = prettyOnTerminal(process.stderr);

  let stopping = false;
  let current: ReturnType<typeof spawn> | undefined;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopping = true;
    // The node-agent finishes what it runs, then exits.
    current?.kill('SIGTERM');
    wake?.();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  for (let failures = 0; !stopping; ) {
    const workDir = mkdtempSync(join(tmpdir(), 'lzy-agent-'));
    const child = spawn(process.execPath, [agentMain, '--server', options.server, '--pool', options.pool, '--slots', String(slots), '--log-level', options.logLevel, ...bundleCacheArgs(workDir, nodeModules)], {
      cwd: workDir,
      env: { ...process.env, LZY_TOKEN: options.token },
      stdio: ['ignore', 'inherit', pretty ? 'pipe' : 'inherit'],
    });
    if (pretty) child.stderr!.pipe(pretty, { end: false });
    current = child;
    note(`node-agent ${child.pid} joins pool ${options.pool} at ${options.server} (working dir ${workDir})`);
    // 'close': once its log lines, piped on a terminal, are all out too.
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    current = undefined;
    rmSync(workDir, { recursive: true, force: true });
    if (stopping) break;
    if (code === AGENT_EXIT.refused) {
      throw new CliError(
        `${options.server} refused this agent for pool ${options.pool}`,
        'check --pool and --token: an admin issues a join token with `lzy token create --agent --pool NAME`',
        EXIT.refused,
      );
    }
    if (code === AGENT_EXIT.usage) throw new CliError('the node-agent could not start with these options', 'see `lzy agent --help`', EXIT.usage);
    if (code === AGENT_EXIT.ok) {
      failures = 0;
      note(`node-agent ${child.pid} was released; a fresh one joins`);
      continue;
    }
    failures++;
    const delayMs = Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures);
    note(`node-agent ${child.pid} ended (${signal ?? `code ${code}`}); joining again in ${delayMs} ms`);
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, delayMs);
    });
    wake = undefined;
  }
  note('stopped');
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
}

function nodeModulesDir(dir: string): string {
  const path = resolve(dir);
  if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    throw usageError(`bad --node-modules ${dir}: no such directory`, 'the node_modules folder of an npm install on this host, e.g. /opt/lzy-deps/node_modules');
  }
  return path;
}

/**
 * With `--node-modules`, the node-agent keeps its bundles in `WORKDIR/bundles`, and
 * `WORKDIR/node_modules` links to the given folder: Node resolves a bundle's bare imports from the
 * `node_modules` folders above the bundle's file, so the packages kept out of bundles are found
 * there. Removing the working dir removes the link, not the folder.
 */
function bundleCacheArgs(workDir: string, nodeModules: string | undefined): string[] {
  if (nodeModules === undefined) return [];
  symlinkSync(nodeModules, join(workDir, 'node_modules'), 'junction');
  return ['--cache-dir', join(workDir, 'bundles')];
}

function note(text: string): void {
  process.stdout.write(`lzy agent: ${text}\n`);
}
