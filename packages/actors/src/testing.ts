// Helpers for tests that start real things: temp dirs, child processes, waiting on conditions.
// Exported as `@lzy/actors/testing` so every package of the project tests the same way.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The subset of a tap test the harness needs. */
export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** Polls `condition` until it is truthy; rejects with `what` after `timeoutMs`. Never a fixed sleep. */
export async function waitUntil<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** A fresh temporary directory, removed when the test ends. */
export function tempDir(t: Teardown, prefix = 'lzy-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A child process running a compiled fixture, with its stdout lines collected as they come. */
export interface Child {
  readonly process: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line (already seen or to come) that `match` accepts. */
  waitForLine(match: (line: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  /** Resolves once the process has exited, with its exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the Node script at `script` in a new process (working in `cwd`, default ours), with its stdout lines collected; killed at teardown. */
export function startProcess(t: Teardown, script: URL, args: string[] = [], env: NodeJS.ProcessEnv = {}, cwd?: string): Child {
  const file = fileURLToPath(script);
  const child = spawn(process.execPath, ['--enable-source-maps', file, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
    ...(cwd === undefined ? {} : { cwd }),
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    process: child,
    lines,
    exited,
    waitForLine: (match, what, timeoutMs) => waitUntil(() => lines.find(match), what, timeoutMs),
  };
}

/** Whether a process with this pid is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
