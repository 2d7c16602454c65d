import { spawn } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { NodeBackend, NodeHandle, NodeStartSpec } from './backend.js';

/** Lines the local node-agent processes print on stderr, with their node id (`AgentOutput`). */
export const agentOutput = channel('lzy:runtime:agent-output');

/** A line a local node-agent printed on stderr: a pino JSON line when it logs at a level, else text. */
export interface AgentOutput {
  readonly nodeId: string;
  readonly line: string;
}

const agentMain = fileURLToPath(new URL('./main.js', import.meta.resolve('@lzy/node-agent')));

/**
 * Nodes as node-agent child processes of the runtime, on this machine. Each node keeps the op
 * bundles it fetched in `<nodesDir>/<nodeId>`, removed when the node is gone; under the runtime's
 * data dir (by default in the user's project), a bundle finds the packages it left out (native
 * addons) in the project's `node_modules`.
 */
export class LocalBackend implements NodeBackend {
  private readonly running = new Set<NodeHandle>();
  private closed = false;

  /**
   * @param nodesDir where nodes keep their files; what a previous run of the runtime left there is removed
   * @param logLevel the level its node-agents log JSON lines at (the runtime's own); without one, they print plain warnings only
   */
  constructor(
    private readonly nodesDir: string,
    private readonly logLevel?: string,
  ) {
    rmSync(nodesDir, { recursive: true, force: true });
  }

  /** Kills every node this backend started and refuses new ones (the runtime is shutting down). */
  killAll(): void {
    this.closed = true;
    for (const handle of this.running) handle.kill();
  }

  start(spec: NodeStartSpec): NodeHandle {
    if (this.closed) throw new Error('the local backend is closed: the runtime is shutting down');
    const cacheDir = join(this.nodesDir, encodeURIComponent(spec.nodeId));
    const child = spawn(
      process.execPath,
      [
        agentMain,
        '--server',
        spec.serverUrl,
        '--slots',
        String(spec.pool.slots),
        '--heartbeat-ms',
        String(spec.heartbeatIntervalMs),
        '--cache-dir',
        cacheDir,
        ...(this.logLevel === undefined ? [] : ['--log-level', this.logLevel]),
      ],
      // Its own process group: removing the node kills the agent and every runner it started,
      // even a runner stuck in a busy loop after the agent itself died.
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...agentEnv(), LZY_TOKEN: spec.token }, detached: true },
    );
    const recent: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      if (agentOutput.hasSubscribers) agentOutput.publish({ nodeId: spec.nodeId, line } satisfies AgentOutput);
    });
    const listeners: Array<(reason: string) => void> = [];
    let exitReason: string | undefined;
    const onGone = (reason: string) => {
      if (exitReason !== undefined) return;
      exitReason = reason;
      listeners.forEach((listener) => listener(reason));
    };
    child.once('exit', (code, signal) => {
      const last = recent.length > 0 ? `; last output: ${recent.slice(-3).join(' | ')}` : '';
      onGone(`node-agent process ${child.pid} exited (${signal ?? `code ${code}`})${last}`);
    });
    child.once('error', (error) => onGone(`node-agent process could not start: ${error.message}`));
    const handle: NodeHandle = {
      onExit: (listener) => {
        if (exitReason !== undefined) listener(exitReason);
        else listeners.push(listener);
      },
      stop: () => child.exitCode === null && child.signalCode === null && child.kill('SIGTERM'),
      kill: () => killGroup(child.pid),
    };
    this.running.add(handle);
    handle.onExit(() => {
      this.running.delete(handle);
      void rm(cacheDir, { recursive: true, force: true });
    });
    return handle;
  }
}

/** SIGKILLs the process group led by `pid` (the agent and its runners); a group already gone is fine. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing of the node is left
  }
}

/**
 * The runtime's environment without its cloud credentials (`AWS_*`: the storage's keys): a node
 * reaches storage through presigned URLs only, and its ops must never read the runtime's keys.
 */
function agentEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
}
