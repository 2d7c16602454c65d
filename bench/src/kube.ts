// The kube bench: the runtime's Kubernetes backend leasing nodes of a simulated cluster for many
// tenants at once.
//
// The cluster (kube-cluster.ts, a child process): lzy-kube-sim with 1,000 nodes in 5 pools of
// 200, pod start set to 1,000 ms, deploy/'s node-agent DaemonSet, and in-process agents
// (kube-agents.ts) that join the runtime with their pod's projected token over the real node-agent
// protocol. The runtime (this process) has one kubernetes pool per simulated pool. 100 tenants
// each run rounds of workflows, each round on a random pool with a random number of ops and a
// random pause before it (seeded: LZY_BENCH_SEED replays an interleaving); a pool's nodes are
// released once idle for a moment, so later rounds lease fresh nodes.
//
//   lease-p50, lease-p99         ms from the backend's lease request to the node's agent admitted
//                                by the gateway (it registers on that connection), vs the same
//                                percentile of the simulator's own pod start measured below
//                                (create a pod through the API → seen Running: ~1,000 ms + the
//                                API's own cost)
//   leases-per-s                 leases whose agent joined / (last join − first request), vs the
//                                rate the simulator alone starts as many pods through the API
//                                with at most as many in flight as our leases had at their peak:
//                                the same cluster work (a pod started per lease) without the
//                                runtime, i.e. what the lease path could approach at best
//   nodes-shared-across-tenants  machines (providerID) or Node objects ever labelled for two
//                                tenants, from the simulator's record of every label write; must
//                                be 0. Baseline 0; ratio 1 / (1 + value), 1.0 when none is shared
//
// LZY_BENCH_QUICK=1 shrinks the cluster and the tenants so the bench takes seconds.
import { fork, type ChildProcess } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, Watch, type V1Pod } from '@kubernetes/client-node';
import { KUBE_LEASE_CHANNEL, Runtime, type KubeLeaseEvent, type PoolConfig } from '@lzy/runtime';
import { seededRandom } from '@lzy/kube-sim';
import { Lzy } from '@lzy/sdk';
import type { ClusterCommand, ClusterReport, ClusterSetup } from './kube-cluster.js';
import { KUBE_POOLS, OPS_BY_POOL } from './kube-ops.js';
import { latencyResult, log, now, percentile, rateResult, sleep, withTimeout, type Result } from './util.js';

interface Sizes {
  nodesPerPool: number;
  tenants: number;
  /** Workflows each tenant runs, one after the other. */
  rounds: number;
  /** Most ops of one workflow (each node has SLOTS slots: up to MAX_OPS / SLOTS nodes). */
  maxOps: number;
  /** Longest random pause before each round. */
  maxPauseMs: number;
  /** Bound of the tenants' phase and of the baseline's. */
  boundMs: number;
}

const FULL: Sizes = { nodesPerPool: 200, tenants: 100, rounds: 4, maxOps: 12, maxPauseMs: 1_000, boundMs: 240_000 };
const QUICK: Sizes = { nodesPerPool: 8, tenants: 4, rounds: 2, maxOps: 8, maxPauseMs: 200, boundMs: 60_000 };

/** The simulator's pod start: from a pod bound to its node to Running. */
const POD_START_MS = 1_000;
const SLOTS = 4;
const HEARTBEAT_MS = 2_000;
/** A node idle this long is released (and deleted; the provisioner replaces it). */
const IDLE_TIMEOUT_MS = 500;
const BASELINE_NAMESPACE = 'lzy-bench-baseline';
/** How often the tenants' phase reports on stderr. */
const PROGRESS_EVERY_MS = 5_000;

/** One lease as the backend's events show it. */
interface LeaseSeen {
  requestedAt: number;
  /** When its node was labelled for the tenant. */
  leasedAt?: number;
  joinedAt?: number;
}

export async function run({ quick }: { quick: boolean }): Promise<Result[]> {
  const sizes = quick ? QUICK : FULL;
  const seed = Number(process.env.LZY_BENCH_SEED ?? 13);
  log(`kube bench (${quick ? 'quick' : 'full'}): ${JSON.stringify(sizes)}, seed ${seed}, pod start ${POD_START_MS} ms`);
  const dir = mkdtempSync(join(tmpdir(), 'lzy-bench-kube-'));
  const cluster = await Cluster.start({
    pools: Object.fromEntries(KUBE_POOLS.map((pool) => [pool, sizes.nodesPerPool])),
    podStartMs: POD_START_MS,
    slots: SLOTS,
    heartbeatMs: HEARTBEAT_MS,
  });
  const leases = new Map<string, LeaseSeen>();
  const onLease = (message: unknown) => {
    const event = message as KubeLeaseEvent;
    const lease = leases.get(event.nodeId);
    if (event.event === 'requested') leases.set(event.nodeId, { requestedAt: now() });
    else if (lease && event.event === 'leased') lease.leasedAt = now();
    else if (lease) lease.joinedAt = now();
  };
  subscribe(KUBE_LEASE_CHANNEL, onLease);
  let runtime: Runtime | undefined;
  try {
    const pools: PoolConfig[] = KUBE_POOLS.map((name) => ({ name, kind: 'kubernetes', slots: SLOTS, cpu: 2, memoryMb: 4096, maxNodes: sizes.nodesPerPool, idleTimeoutMs: IDLE_TIMEOUT_MS }));
    runtime = await Runtime.start({ dataDir: join(dir, 'lzy'), pools, kubeconfig: cluster.kubeconfig, heartbeatIntervalMs: HEARTBEAT_MS, allocationTimeoutMs: sizes.boundMs });
    cluster.send({ type: 'runtime', url: runtime.url });
    const t0 = now();
    const done = { workflows: 0 };
    const progress = setInterval(() => {
      const joined = [...leases.values()].filter((lease) => lease.joinedAt !== undefined).length;
      log(`  ${((now() - t0) / 1000).toFixed(0)} s: ${done.workflows} of ${sizes.tenants * sizes.rounds} workflows done, ${leases.size} leases requested, ${joined} joined`);
    }, PROGRESS_EVERY_MS);
    try {
      await withTimeout(runTenants(runtime, sizes, seed, done), sizes.boundMs, 'the tenants’ workflows');
    } finally {
      clearInterval(progress);
    }
    log(`tenants: ${done.workflows} workflows of ${sizes.tenants} tenants in ${((now() - t0) / 1000).toFixed(1)} s`);
    const closing = now();
    await runtime.close();
    runtime = undefined;
    log(`runtime closed (every node released) in ${((now() - closing) / 1000).toFixed(1)} s`);

    const all = [...leases.values()];
    const joined = all.filter((lease): lease is Required<LeaseSeen> => lease.joinedAt !== undefined);
    if (joined.length === 0) throw new Error('no lease joined');
    if (joined.length < all.length) log(`${all.length - joined.length} of ${all.length} leases never had their agent join`);
    const latencies = joined.map((lease) => lease.joinedAt - lease.requestedAt);
    const first = Math.min(...all.map((lease) => lease.requestedAt));
    const last = Math.max(...joined.map((lease) => lease.joinedAt));
    const rate = (joined.length * 1000) / (last - first);
    const peak = peakInFlight(all);
    log(`leases: ${joined.length} joined in ${((last - first) / 1000).toFixed(1)} s, at most ${peak} in flight; p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`);
    const labelling = joined.flatMap((lease) => (lease.leasedAt === undefined ? [] : [lease.leasedAt - lease.requestedAt]));
    const starting = joined.flatMap((lease) => (lease.leasedAt === undefined ? [] : [lease.joinedAt - lease.leasedAt]));
    log(`  request → node labelled: p50 ${percentile(labelling, 50).toFixed(0)} ms, p99 ${percentile(labelling, 99).toFixed(0)} ms; labelled → agent joined: p50 ${percentile(starting, 50).toFixed(0)} ms, p99 ${percentile(starting, 99).toFixed(0)} ms`);
    if (cluster.refusals.length > 0) log(`agents refused: ${cluster.refusals.length}, e.g. ${cluster.refusals[0]}`);

    const tenancy = await cluster.tenancy();
    const shared = tenancy.sharedMachines.length + tenancy.sharedNodes.length;
    log(`  in the cluster: ${tenancy.steps}`);
    log(`tenancy: ${tenancy.leasedMachines} machines and ${tenancy.leasedNodes} Node objects labelled for a tenant; shared: ${[...tenancy.sharedMachines, ...tenancy.sharedNodes].join('; ') || 'none'}`);

    const baseline = await withTimeout(podStarts(cluster.kubeconfig, joined.length, peak), sizes.boundMs, 'the baseline’s pods to start');
    log(`baseline: ${joined.length} pods started through the API, ≤ ${peak} in flight, in ${(baseline.ms / 1000).toFixed(1)} s; p50 ${percentile(baseline.latencies, 50).toFixed(0)} ms, p99 ${percentile(baseline.latencies, 99).toFixed(0)} ms`);
    return [
      latencyResult('lease-p50', percentile(latencies, 50), percentile(baseline.latencies, 50)),
      latencyResult('lease-p99', percentile(latencies, 99), percentile(baseline.latencies, 99)),
      rateResult('leases-per-s', rate, (joined.length * 1000) / baseline.ms, 'leases/s'),
      { name: 'nodes-shared-across-tenants', value: shared, unit: 'nodes', baseline: 0, ratio: 1 / (1 + shared) },
    ];
  } finally {
    unsubscribe(KUBE_LEASE_CHANNEL, onLease);
    if (runtime) await withTimeout(runtime.close(), 60_000, 'the runtime to close').catch((error: Error) => log(`kube bench: ${error.message}`));
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Every tenant's rounds, the tenants at once: before each round a random pause, then a workflow of
 * a random number of ops on a random pool; `done` counts the workflows that finished.
 */
async function runTenants(runtime: Runtime, sizes: Sizes, seed: number, done: { workflows: number }): Promise<void> {
  const random = seededRandom(seed);
  // The whole schedule is drawn first, so the interleaving depends on the seed only.
  const plans = Array.from({ length: sizes.tenants }, () =>
    Array.from({ length: sizes.rounds }, () => ({
      pauseMs: Math.floor(random() * sizes.maxPauseMs),
      pool: Math.floor(random() * KUBE_POOLS.length),
      ops: 1 + Math.floor(random() * sizes.maxOps),
    })),
  );
  const clients = await Promise.all(
    plans.map(async (_, i) => Lzy.connect({ endpoint: runtime.url, token: await runtime.iam.issueToken(`tenant-${i}`), onLog: () => {} })),
  );
  try {
    await Promise.all(
      plans.map(async (rounds, i) => {
        const lzy = clients[i]!;
        for (const [round, plan] of rounds.entries()) {
          await sleep(plan.pauseMs);
          const op = OPS_BY_POOL[plan.pool]!;
          const values = await lzy.workflow(`tenant-${i}-round-${round}`, async () => Promise.all(Array.from({ length: plan.ops }, (_, k) => op(k))));
          if (values.some((value, k) => value !== k)) throw new Error(`tenant-${i} round ${round}: wrong results ${JSON.stringify(values)}`);
          done.workflows++;
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((lzy) => lzy.close()));
  }
}

/** The most leases requested and not yet joined at any moment. */
function peakInFlight(leases: readonly LeaseSeen[]): number {
  const steps: Array<[number, number]> = [];
  for (const lease of leases) {
    steps.push([lease.requestedAt, 1]);
    if (lease.joinedAt !== undefined) steps.push([lease.joinedAt, -1]);
  }
  steps.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let peak = 0;
  for (const [, step] of steps) peak = Math.max(peak, (current += step));
  return Math.max(1, peak);
}

/**
 * The baseline: `count` pods created through the API, each bound to a node (as the DaemonSet
 * controller binds its pods), at most `inFlight` not yet Running at once; the ms of each from its
 * create to the watch seeing it Running, and the ms of all.
 */
async function podStarts(kubeconfig: string, count: number, inFlight: number): Promise<{ latencies: number[]; ms: number }> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const core = config.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: BASELINE_NAMESPACE } } });
  const nodes = (await core.listNode()).items.map((node) => node.metadata!.name!);
  const running = new Map<string, () => void>();
  const watch = await new Watch(config).watch(
    `/api/v1/namespaces/${BASELINE_NAMESPACE}/pods`,
    {},
    (_type: string, pod: V1Pod) => {
      if (pod.status?.phase === 'Running') running.get(pod.metadata!.name!)?.();
    },
    () => {},
  );
  const latencies: number[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < count; i = next++) {
      const name = `pod-${i}`;
      const t0 = now();
      const started = new Promise<void>((resolve) => running.set(name, resolve));
      await core.createNamespacedPod({
        namespace: BASELINE_NAMESPACE,
        body: { metadata: { name }, spec: { nodeName: nodes[i % nodes.length]!, containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }] } },
      });
      await started;
      running.delete(name);
      latencies.push(now() - t0);
    }
  };
  try {
    const t0 = now();
    await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
    return { latencies, ms: now() - t0 };
  } finally {
    watch.abort();
    await core.deleteNamespace({ name: BASELINE_NAMESPACE });
  }
}

/** The cluster's child process (kube-cluster.ts). */
class Cluster {
  readonly refusals: string[] = [];
  private tenancyWaiter: ((report: Extract<ClusterReport, { type: 'tenancy' }>) => void) | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly kubeconfig: string,
  ) {
    child.on('message', (report: ClusterReport) => {
      if (report.type === 'refused') this.refusals.push(`${report.pod}: ${report.message}`);
      else if (report.type === 'tenancy') this.tenancyWaiter?.(report);
    });
  }

  static async start(setup: ClusterSetup): Promise<Cluster> {
    const file = fileURLToPath(new URL('./kube-cluster.js', import.meta.url));
    // The bench's node flags (e.g. --cpu-prof) apply to the cluster's process too.
    const child = fork(file, [JSON.stringify(setup)], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const kubeconfig = await withTimeout(
      new Promise<string>((resolve, reject) => {
        child.on('message', (report: ClusterReport) => report.type === 'ready' && resolve(report.kubeconfig));
        child.once('exit', (code, signal) => reject(new Error(`the cluster process exited early (${signal ?? `code ${code}`})`)));
      }),
      60_000,
      'the simulated cluster to start',
    ).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    log(`cluster: ${Object.values(setup.pools).reduce((a, b) => a + b, 0)} nodes in ${Object.keys(setup.pools).length} pools, process ${child.pid}`);
    return new Cluster(child, kubeconfig);
  }

  send(command: ClusterCommand): void {
    this.child.send(command);
  }

  tenancy(): Promise<Extract<ClusterReport, { type: 'tenancy' }>> {
    const report = new Promise<Extract<ClusterReport, { type: 'tenancy' }>>((resolve) => (this.tenancyWaiter = resolve));
    this.send({ type: 'tenancy' });
    return withTimeout(report, 30_000, 'the cluster’s tenancy record');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    await withTimeout(exited, 15_000, 'the cluster process to exit').catch(() => this.child.kill('SIGKILL'));
  }
}
