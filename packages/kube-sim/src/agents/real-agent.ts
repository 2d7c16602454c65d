// A real node-agent process for a pod whose container runs the node-agent: started with the
// pod's args and env, its projected ServiceAccount token written to a file where the env and args
// point (the pod's mount path is rewritten to that file's folder), Service names rewritten.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configMapKind, secretKind } from '../kinds/index.js';
import { isObject, objectAt, stringAt, type Json, type JsonObject } from '../json.js';
import { objectItems } from '../kinds/validation.js';
import type { ObjectStore } from '../store.js';
import type { TokenIssuer } from '../token-issuer.js';
import { issuePodToken } from './pod-token.js';
import { lightAgents, type PodAgent, type PodAgentLauncher, type PodContext } from './pod-agent.js';
import { rewriteServiceHosts, type ServiceTarget } from './service-rewrite.js';

/** What real agents need from the simulator. */
export interface RealAgentOptions {
  store: ObjectStore;
  tokens: TokenIssuer;
  services: readonly ServiceTarget[];
  /** The node-agent's main script. */
  agentMain: string;
  /** Where each pod gets its folder (token files, log). */
  workDir: string;
}

/** Whether a container runs the node-agent: its image or command names it. */
export function runsNodeAgent(container: JsonObject): boolean {
  const command = Array.isArray(container.command) ? container.command.map(String) : [];
  return /node-agent/.test(String(container.image ?? '')) || command.some((part) => /lzy-node-agent|node-agent\/dist\/src\/main\.js/.test(part));
}

/** The container's arguments after its command's program (the node-agent's own flags). */
function agentArgs(container: JsonObject): string[] {
  const command = Array.isArray(container.command) ? container.command.map(String) : [];
  const args = Array.isArray(container.args) ? container.args.map(String) : [];
  const program = command.findIndex((part) => /lzy-node-agent|main\.js$/.test(part));
  return [...(program >= 0 ? command.slice(program + 1) : []), ...args];
}

/** A projected volume's token files, written under `dir`, and the mount path they stand for. */
function writeProjectedTokens(context: PodContext, options: RealAgentOptions, container: JsonObject, dir: string): Array<{ mountPath: string; hostPath: string }> {
  const { pod, node } = context;
  const mounts: Array<{ mountPath: string; hostPath: string }> = [];
  for (const [, volume] of objectItems(objectAt(pod, 'spec')?.volumes)) {
    const sources = objectItems(objectAt(volume, 'projected')?.sources);
    const mount = objectItems(container.volumeMounts).find(([, m]) => m.name === volume.name)?.[1];
    if (sources.length === 0 || !mount) continue;
    const hostPath = join(dir, 'volumes', String(volume.name));
    mkdirSync(hostPath, { recursive: true });
    for (const [, source] of sources) {
      const projection = objectAt(source, 'serviceAccountToken');
      if (!projection) continue;
      const audience = stringAt(projection, 'audience') ?? 'https://kubernetes.default.svc.cluster.local';
      const expiration = typeof projection.expirationSeconds === 'number' ? projection.expirationSeconds : undefined;
      const token = issuePodToken(options, pod, node, audience, expiration);
      writeFileSync(join(hostPath, stringAt(projection, 'path') ?? 'token'), token, { mode: 0o600 });
    }
    mounts.push({ mountPath: String(mount.mountPath), hostPath });
  }
  return mounts;
}

/** The value of an env entry: literal, or from the pod's fields, a Secret or a ConfigMap. */
function envValue(entry: JsonObject, pod: JsonObject, store: ObjectStore): string | undefined {
  if (typeof entry.value === 'string') return entry.value;
  const from = objectAt(entry, 'valueFrom');
  const namespace = String(objectAt(pod, 'metadata')?.namespace);
  const field = stringAt(objectAt(from, 'fieldRef'), 'fieldPath');
  if (field) {
    let current: Json | undefined = pod;
    for (const part of field.split('.')) current = isObject(current) ? current[part] : undefined;
    return current === undefined || current === null ? '' : String(current);
  }
  for (const [refName, kind] of [['secretKeyRef', secretKind], ['configMapKeyRef', configMapKind]] as const) {
    const ref = objectAt(from, refName);
    if (!ref) continue;
    const data = objectAt(store.find(kind, namespace, String(ref.name)), 'data');
    const value = stringAt(data, String(ref.key));
    if (value === undefined) return undefined;
    return kind === secretKind ? Buffer.from(value, 'base64').toString('utf8') : value;
  }
  return undefined;
}

class RealAgent implements PodAgent {
  private exited: Promise<void>;
  private stopping = false;

  constructor(
    private readonly child: ChildProcess,
    onExit: (code: number | null) => void,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        if (!this.stopping) onExit(code);
        resolve();
      }),
    );
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // Already gone.
    }
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Starts a real node-agent process for pods whose container runs the node-agent, and a light
 * agent for any other pod.
 */
export function realAgents(options: RealAgentOptions): PodAgentLauncher {
  return (context) => {
    const { pod } = context;
    const container = objectItems(objectAt(pod, 'spec')?.containers)
      .map(([, c]) => c)
      .find(runsNodeAgent);
    if (!container || objectAt(pod, 'metadata')?.ownerReferences === undefined) return lightAgents(context);
    const metadata = objectAt(pod, 'metadata')!;
    const namespace = String(metadata.namespace);
    const dir = join(options.workDir, 'pods', `${namespace}_${String(metadata.name)}`);
    mkdirSync(dir, { recursive: true });
    const mounts = writeProjectedTokens(context, options, container, dir);
    const rewrite = (value: string) => {
      let result = rewriteServiceHosts(value, options.services, namespace);
      for (const { mountPath, hostPath } of mounts) result = result.split(mountPath).join(hostPath);
      return result;
    };
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir };
    for (const [, entry] of objectItems(container.env)) {
      const value = envValue(entry, pod, options.store);
      if (value !== undefined) env[String(entry.name)] = rewrite(value);
    }
    const log = createWriteStream(join(dir, 'agent.log'));
    const child = spawn(process.execPath, [options.agentMain, ...agentArgs(container).map(rewrite)], { env, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', () => log.end());
    return new RealAgent(child, context.onExit);
  };
}
