// What the simulator's tests share: a started simulator torn down with the test, clients of it, and waiting on conditions.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
export { alive } from '@lzy/actors/testing';
import { startKubeSim, type KubeSim, type KubeSimOptions } from '../src/index.js';

/** The kubectl binary, if this machine has one. */
export const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((path) => existsSync(path));

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A temporary folder removed after the test. */
export function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'kube-sim-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A simulator with a kubeconfig, stopped after the test. */
export async function startSim(t: Teardown, options: KubeSimOptions = {}): Promise<KubeSim & { kubeconfigPath: string }> {
  const kubeconfigPath = join(tempDir(t), 'kubeconfig');
  const sim = await startKubeSim({ ...options, kubeconfigPath });
  t.teardown(() => sim.stop());
  return { ...sim, kubeconfigPath };
}

/** A client configuration for the simulator, read from the kubeconfig it wrote. */
export function kubeConfigOf(sim: { kubeconfigPath: string }): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(sim.kubeconfigPath);
  return config;
}

/** Resolves once `condition` holds, checking every few milliseconds; rejects after `timeoutMs`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs kubectl against the simulator; resolves with its stdout, rejects with its stderr. */
export function kubectl(sim: { kubeconfigPath: string }, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(KUBECTL ?? 'kubectl', [`--kubeconfig=${sim.kubeconfigPath}`, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** A connection an agent opened to the runtime stand-in; `closed` once either side ends it. */
export interface Dial {
  closed: boolean;
}

/** A stand-in for the runtime on 127.0.0.1 that records each WebSocket upgrade an agent asks for; closed after the test. */
export async function startRuntimeStandIn(t: Teardown): Promise<{ port: number; dials: Dial[] }> {
  const dials: Dial[] = [];
  const server = createServer();
  server.on('upgrade', (_request, socket) => {
    const dial = { closed: false };
    dials.push(dial);
    // The process's end closes its side; the server's side of an upgraded socket stays half-open.
    socket.on('end', () => (dial.closed = true));
    socket.on('close', () => (dial.closed = true));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  return { port: (server.address() as AddressInfo).port, dials };
}

/** The pids of the node-agent processes whose parent is `pid` (read from Linux's /proc). */
export function nodeAgentPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('node-agent')) children.push(Number(entry));
    } catch {
      // The process ended while /proc was read.
    }
  }
  return children;
}
