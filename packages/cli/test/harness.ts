// Starts `lzy server` and `lzy` commands as real processes, the way users run them.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startProcess, tempDir, type Child, type Teardown } from '@lzy/actors/testing';

export { tempDir, waitUntil, type Child, type Teardown } from '@lzy/actors/testing';

const bin = new URL('../../bin/lzy.js', import.meta.url);

/** A running `lzy server`. */
export interface Server {
  readonly child: Child;
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The admin token the server wrote to `DATA_DIR/admin.token`. */
  readonly adminToken: string;
}

/** Pools of the test servers: by default one small pool, so tests do not start many node-agents. */
function poolsFile(t: Teardown, pools: object[] = [{ name: 'default', cpu: 2, memoryMb: 2048, slots: 2, maxNodes: 2, idleTimeoutMs: 60_000 }]): string {
  const file = join(tempDir(t), 'pools.json');
  writeFileSync(file, JSON.stringify(pools));
  return file;
}

/** Starts `lzy server` on a free port (or `port`) in `dataDir` (default a fresh temp dir), working in `cwd` with `env` added to the environment; killed at teardown. */
export async function startServer(
  t: Teardown,
  options: { dataDir?: string; port?: number; args?: string[]; pools?: object[]; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Server> {
  const dataDir = options.dataDir ?? tempDir(t);
  const child = startProcess(t, bin, [
    'server',
    '--port',
    String(options.port ?? 0),
    '--data-dir',
    dataDir,
    '--pools',
    poolsFile(t, options.pools),
    ...(options.args ?? []),
  ], options.env ?? {}, options.cwd);
  const died = child.exited.then(({ code, signal }) => {
    throw new Error(`lzy server exited (code ${code}, signal ${signal}) before it listened`);
  });
  const line = await Promise.race([child.waitForLine((l) => l.startsWith('lzy server listening on '), 'lzy server to listen', 90_000), died]);
  const url = line.slice('lzy server listening on '.length);
  return { child, url, port: Number(new URL(url).port), dataDir, adminToken: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim() };
}

/** What a finished `lzy` command did. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout's lines, without the empty one after the last newline. */
  lines: string[];
}

/** Runs `lzy ...args` to its end (killed after `timeoutMs`), as `user` if given (the tests run as root). */
export function lzy(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000, user?: { uid: number; gid: number }): Promise<CliResult> {
  const command = [process.execPath, fileURLToPath(bin), ...args];
  // As another user, without the test runner's hooks in NODE_OPTIONS: they write in the runner's folder, which that user may not.
  const [file, argv] = user ? ['env', ['-u', 'NODE_OPTIONS', ...command]] : [command[0]!, command.slice(1)];
  const child = spawn(file, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...user });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, lines: stdout.split('\n').filter((line, i, all) => i < all.length - 1 || line !== '') });
    });
  });
}

/** A new token of `tenant` on `server`, made with its admin token by `lzy token create`. */
export async function tenantToken(server: Server, tenant: string): Promise<string> {
  const created = await lzy(['token', 'create', '--tenant', tenant, '--endpoint', server.url, '--token', server.adminToken]);
  if (created.code !== 0) throw new Error(`lzy token create --tenant ${tenant} failed: ${created.stderr}`);
  return created.lines.at(-1)!;
}

/** A compiled fixture next to these tests. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));
}

/** How often the counted op `name` ran in `dir` (see fixtures/ops.ts). */
export function runs(dir: string, name: string): number {
  try {
    return readFileSync(join(dir, `${name}.count`), 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

/** Starts a compiled fixture in a new process; killed at teardown. */
export function startFixture(t: Teardown, name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Child {
  return startProcess(t, new URL(`./fixtures/${name}.js`, import.meta.url), args, env);
}

/** A running `lzy agent`. */
export interface Agent {
  readonly process: ChildProcess;
  /** The node-agent processes it started so far, in order: each one a fresh node of the pool. */
  nodeAgentPids(): number[];
  /** What it and its node-agents wrote on stderr so far, line by line (also passed on to ours). */
  readonly errorLines: string[];
}

/**
 * Starts `lzy agent ...args` (inside the network namespace `netns` if given); at teardown it is
 * stopped with SIGTERM, as an operator would, and killed if it does not stop.
 */
export function startAgent(t: Teardown, args: string[], options: { netns?: string } = {}): Agent {
  const command = [fileURLToPath(bin), 'agent', ...args];
  const [file, argv] = options.netns ? ['ip', ['netns', 'exec', options.netns, process.execPath, ...command]] : [process.execPath, command];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const errorLines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => {
    errorLines.push(line);
    process.stderr.write(`${line}\n`);
  });
  const exited = once(child, 'exit');
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  return {
    process: child,
    nodeAgentPids: () => lines.flatMap((line) => /^lzy agent: node-agent (\d+) joins/.exec(line)?.slice(1).map(Number) ?? []),
    errorLines,
  };
}

/** Every process below `pid`. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const parent = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const next = children.get(queue.shift()!) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}
