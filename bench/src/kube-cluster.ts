// The kube bench's cluster, in a process of its own so that the simulator (API server,
// controllers, the agents' connections) runs on the other core than the runtime: lzy-kube-sim
// with deploy/'s namespaces and node-agent DaemonSet, in-process agents (kube-agents.ts), and a
// record of every tenant each machine and each Node object was labelled for over the run.
//
// Parent → child: { type: 'runtime', url } once the runtime listens; { type: 'tenancy' } asks for
// the record. Child → parent: { type: 'ready', kubeconfig }, { type: 'tenancy', ... },
// { type: 'refused', pod, message } for an agent the runtime refused. A disconnect stops it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, KubernetesObjectApi, loadAllYaml, type KubernetesObject } from '@kubernetes/client-node';
import { issuePodToken, startKubeSim, type KubeSim } from '@lzy/kube-sim';
import { InProcessAgents } from './kube-agents.js';

/** How the parent sets the cluster up (argv[2], JSON). */
export interface ClusterSetup {
  pools: Record<string, number>;
  podStartMs: number;
  slots: number;
  heartbeatMs: number;
}

/** Child → parent. */
export type ClusterReport =
  | { type: 'ready'; kubeconfig: string }
  | { type: 'refused'; pod: string; message: string }
  | { type: 'tenancy'; leasedMachines: number; leasedNodes: number; sharedMachines: string[]; sharedNodes: string[]; steps: string };

/** Parent → child. */
export type ClusterCommand = { type: 'runtime'; url: string } | { type: 'tenancy' };

const deploy = new URL('../../../deploy/', import.meta.url);

/**
 * When each leased node went through the cluster's steps, by node name: labelled for a tenant, its
 * agent pod created, the pod's agent started (pod Running), and the agent admitted by the runtime.
 */
class StepClock {
  private readonly steps = new Map<string, { labelled?: number; created?: number; started?: number; admitted?: number }>();

  at(node: string, step: 'labelled' | 'created' | 'started' | 'admitted'): void {
    const steps = this.steps.get(node) ?? {};
    steps[step] ??= performance.now();
    this.steps.set(node, steps);
  }

  /** The p50 and p99 of each step's time after the previous one. */
  report(): string {
    const order = ['labelled', 'created', 'started', 'admitted'] as const;
    const parts: string[] = [];
    for (let i = 1; i < order.length; i++) {
      const spans = [...this.steps.values()].flatMap((steps) => {
        const from = steps[order[i - 1]!];
        const to = steps[order[i]!];
        return from === undefined || to === undefined ? [] : [to - from];
      });
      if (spans.length === 0) continue;
      spans.sort((a, b) => a - b);
      const at = (p: number) => spans[Math.min(spans.length - 1, Math.ceil((p / 100) * spans.length) - 1)]!.toFixed(0);
      parts.push(`${order[i - 1]} → ${order[i]} p50 ${at(50)} ms, p99 ${at(99)} ms`);
    }
    return parts.join('; ');
  }
}

/** Every tenant each key (a machine's providerID, or a Node's uid) was labelled for. */
class TenancyRecord {
  readonly machines = new Map<string, Set<string>>();
  readonly nodes = new Map<string, Set<string>>();

  saw(node: { metadata?: { uid?: string; labels?: Record<string, string> }; spec?: { providerID?: string } }): void {
    const tenant = node.metadata?.labels?.['lzy.dev/tenant'];
    if (tenant === undefined) return;
    add(this.nodes, node.metadata?.uid ?? '?', tenant);
    add(this.machines, node.spec?.providerID ?? '?', tenant);
  }

  report(steps: string): ClusterReport {
    const shared = (map: Map<string, Set<string>>) => [...map].filter(([, tenants]) => tenants.size > 1).map(([key, tenants]) => `${key}: ${[...tenants].join(', ')}`);
    return { type: 'tenancy', leasedMachines: this.machines.size, leasedNodes: this.nodes.size, sharedMachines: shared(this.machines), sharedNodes: shared(this.nodes), steps };
  }
}

function add(map: Map<string, Set<string>>, key: string, tenant: string): void {
  const tenants = map.get(key);
  if (tenants) tenants.add(tenant);
  else map.set(key, new Set([tenant]));
}

function send(report: ClusterReport): void {
  process.send?.(report);
}

async function main(): Promise<void> {
  const setup = JSON.parse(process.argv[2] ?? '{}') as ClusterSetup;
  let serverUrl: string | undefined;
  let sim: KubeSim | undefined;
  const steps = new StepClock();
  const agents = new InProcessAgents({
    serverUrl: () => {
      if (serverUrl === undefined) throw new Error('an agent pod started before the runtime listens');
      return serverUrl;
    },
    token: ({ pod, node }) => issuePodToken(sim!, pod, node, 'lzy'),
    slots: setup.slots,
    heartbeatMs: setup.heartbeatMs,
    refused: (pod, message) => send({ type: 'refused', pod, message }),
    started: (node) => steps.at(node, 'started'),
    admitted: (node) => steps.at(node, 'admitted'),
  });
  const dir = mkdtempSync(join(tmpdir(), 'lzy-bench-kube-'));
  const kubeconfig = join(dir, 'kubeconfig');
  sim = await startKubeSim({ pools: setup.pools, podStartMs: setup.podStartMs, kubeconfigPath: kubeconfig, agents: agents.launcher });
  const tenancy = new TenancyRecord();
  sim.store.hub.subscribe((event) => {
    const object = event.object as { kind?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; spec?: { nodeName?: string } };
    if (object.kind === 'Node') {
      tenancy.saw(event.object as Parameters<TenancyRecord['saw']>[0]);
      if (object.metadata?.labels?.['lzy.dev/tenant'] !== undefined) steps.at(String(object.metadata.name), 'labelled');
    } else if (object.kind === 'Pod' && event.type === 'ADDED' && object.metadata?.namespace === 'lzy-agents') steps.at(String(object.spec?.nodeName), 'created');
  });
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const objects = config.makeApiClient(KubernetesObjectApi);
  for (const file of ['00-namespaces.yaml', 'node-agent.yaml']) {
    for (const object of loadAllYaml(readFileSync(new URL(file, deploy), 'utf8')) as KubernetesObject[]) await objects.create(object);
  }
  process.on('message', (command: ClusterCommand) => {
    if (command.type === 'runtime') serverUrl = command.url;
    else send(tenancy.report(steps.report()));
  });
  process.once('disconnect', () => {
    void (async () => {
      await agents.close();
      await sim?.stop();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    })();
  });
  send({ type: 'ready', kubeconfig });
}

await main();
