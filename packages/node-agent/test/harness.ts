// Test helpers: waiting on conditions, temporary directories, and the agent process under test.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitUntil, type Teardown } from '@lzy/actors/testing';

export { tempDir, waitUntil, type Teardown } from '@lzy/actors/testing';

/** A node-agent process under test, with its stderr lines collected as they come. */
export interface AgentProcess {
  readonly process: ChildProcess;
  readonly stderr: string[];
  /** Resolves once the agent has exited, with its exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stderr line (seen or to come) that contains `text`. */
  stderrLine(text: string): Promise<string>;
  /** True while any process of the agent's group (the agent or one of its runners) is alive. */
  groupAlive(): boolean;
}

const agentMain = fileURLToPath(new URL('../src/main.js', import.meta.url));

/**
 * Starts the real agent (`dist/src/main.js`) in its own process group, so its runners can be
 * killed with it: the whole group is killed at teardown.
 */
export function startAgent(t: Teardown, args: string[], env: NodeJS.ProcessEnv = {}): AgentProcess {
  // tap puts its process-tracking hooks in the NODE_OPTIONS of every process a test spawns, and the
  // runners would inherit them: `env` sets NODE_OPTIONS last, so the agent runs as in production.
  const child = spawn('env', ['NODE_OPTIONS=--enable-source-maps', process.execPath, agentMain, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  t.teardown(async () => {
    if (groupAlive()) process.kill(-child.pid!, 'SIGKILL');
    await exited;
  });
  return {
    process: child,
    stderr,
    exited,
    groupAlive,
    stderrLine: (text) => waitUntil(() => stderr.find((line) => line.includes(text)), `agent stderr line with '${text}'`),
  };
}
