// The kubelet simulator, for every node: a pod bound to the node goes Pending → Running after the
// pod start delay (its workload started by the agent launcher), and on deletion its workload is
// stopped and the pod removed; node Leases are renewed as heartbeats; a node can be set NotReady.
import type { Clock, ClockTimer } from '../clock.js';
import { timestamp } from '../clock.js';
import { leaseKind, nodeKind, podKind } from '../kinds/index.js';
import { clone, objectAt, stringAt, type JsonObject } from '../json.js';
import { objectItems } from '../kinds/validation.js';
import type { ObjectStore } from '../store.js';
import type { PodAgent, PodAgentLauncher } from '../agents/pod-agent.js';
import { Reconciler } from './reconciler.js';

/** How the kubelets behave. */
export interface KubeletOptions {
  clock: Clock;
  /** From a pod bound to a node to its workload started and the pod Running. */
  podStartMs: number;
  /** How often each node's Lease in kube-node-lease is renewed. */
  heartbeatMs: number;
  launcher: PodAgentLauncher;
}

/** The taints the node lifecycle controller puts on a NotReady node. */
const NOT_READY_TAINTS = [
  { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' },
];

/** A pod the kubelet has taken on. */
interface PodRun {
  starting?: ClockTimer | undefined;
  agent?: PodAgent | undefined;
  stopping?: Promise<void>;
  restarts: number;
}

function metaOf(object: JsonObject): JsonObject {
  return objectAt(object, 'metadata') ?? {};
}

/** The kubelets of all nodes, in one object. */
export class KubeletSimulator {
  private readonly runs = new Map<string, PodRun>();
  private readonly reconciler: Reconciler;
  private heartbeat: ClockTimer | undefined;
  private stopped = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: KubeletOptions,
  ) {
    this.reconciler = new Reconciler(store.hub, (event) => event.kind === podKind, () => this.reconcile());
    this.reconciler.trigger();
    this.heartbeat = options.clock.after(0, () => this.beat());
  }

  /** How many pods have a started workload. */
  get runningAgents(): number {
    return [...this.runs.values()].filter((run) => run.agent !== undefined && run.stopping === undefined).length;
  }

  private reconcile(): void {
    const live = new Set<string>();
    for (const pod of [...this.store.scan(podKind)]) {
      const metadata = metaOf(pod);
      const uid = String(metadata.uid);
      if (stringAt(objectAt(pod, 'spec'), 'nodeName') === undefined) continue;
      live.add(uid);
      const run = this.runs.get(uid);
      if (metadata.deletionTimestamp !== undefined) {
        if (!run) {
          this.runs.set(uid, { restarts: 0, stopping: this.finish(pod, undefined) });
        } else if (!run.stopping) {
          run.starting?.cancel();
          run.stopping = this.finish(pod, run.agent);
        }
      } else if (!run && objectAt(pod, 'status')?.phase === 'Pending') {
        const fresh: PodRun = { restarts: 0 };
        this.runs.set(uid, fresh);
        this.scheduleStart(pod, fresh);
      }
    }
    for (const [uid, run] of this.runs) {
      if (live.has(uid)) continue;
      run.starting?.cancel();
      if (run.agent && !run.stopping) void run.agent.stop(0);
      this.runs.delete(uid);
    }
  }

  private scheduleStart(pod: JsonObject, run: PodRun): void {
    const metadata = metaOf(pod);
    run.starting = this.options.clock.after(this.options.podStartMs, () => {
      run.starting = undefined;
      const current = this.store.find(podKind, stringAt(metadata, 'namespace'), String(metadata.name));
      const node = this.store.find(nodeKind, undefined, String(objectAt(pod, 'spec')?.nodeName));
      if (this.stopped || !current || !node || metaOf(current).uid !== metadata.uid || metaOf(current).deletionTimestamp !== undefined) return;
      run.agent = this.options.launcher({ pod: current, node, onExit: (code) => this.crashed(current, run, code) });
      this.setPodStatus(current, 'Running', run.restarts, undefined);
    });
  }

  /** A workload that ended by itself: its container restarts after the pod start delay, as with restartPolicy Always. */
  private crashed(pod: JsonObject, run: PodRun, code: number | null): void {
    if (this.stopped || run.stopping) return;
    run.agent = undefined;
    run.restarts += 1;
    const current = this.store.find(podKind, stringAt(metaOf(pod), 'namespace'), String(metaOf(pod).name));
    if (!current || metaOf(current).uid !== metaOf(pod).uid) return;
    this.setPodStatus(current, 'Running', run.restarts, code ?? 137);
    this.scheduleStart(current, run);
  }

  private setPodStatus(pod: JsonObject, phase: string, restarts: number, exitCode: number | undefined): void {
    const metadata = metaOf(pod);
    const now = timestamp(this.options.clock.now());
    const ready = exitCode === undefined;
    const node = this.store.find(nodeKind, undefined, String(objectAt(pod, 'spec')?.nodeName));
    const hostIP = objectItems(objectAt(node, 'status')?.addresses).find(([, a]) => a.type === 'InternalIP')?.[1].address ?? '10.0.0.1';
    const containers = objectItems(objectAt(pod, 'spec')?.containers).map(([, c]) => ({
      name: String(c.name),
      image: String(c.image),
      imageID: '',
      ready,
      started: ready,
      restartCount: restarts,
      state: ready ? { running: { startedAt: now } } : { waiting: { reason: 'CrashLoopBackOff' } },
      ...(exitCode === undefined ? {} : { lastState: { terminated: { exitCode, reason: 'Error', finishedAt: now } } }),
    }));
    const condition = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastTransitionTime: now });
    const status: JsonObject = {
      ...(objectAt(pod, 'status') ?? {}),
      phase,
      hostIP: String(hostIP),
      podIP: String(hostIP),
      startTime: stringAt(objectAt(pod, 'status'), 'startTime') ?? now,
      conditions: [condition('PodScheduled', true), condition('Initialized', true), condition('ContainersReady', ready), condition('Ready', ready)],
      containerStatuses: containers,
    };
    try {
      this.store.update(podKind, stringAt(metadata, 'namespace'), String(metadata.name), { ...pod, status }, { subresource: 'status' });
    } catch {
      // The pod went meanwhile.
    }
  }

  /** Stops a deleted pod's workload within its grace period, then removes the pod. */
  private async finish(pod: JsonObject, agent: PodAgent | undefined): Promise<void> {
    const metadata = metaOf(pod);
    await agent?.stop(Number(metadata.deletionGracePeriodSeconds ?? 30) * 1000);
    try {
      this.store.delete(podKind, stringAt(metadata, 'namespace'), String(metadata.name), { gracePeriodSeconds: 0, preconditions: { uid: String(metadata.uid) } });
    } catch {
      // Already removed (its node went, or it was force-deleted).
    }
  }

  private beat(): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    for (const node of [...this.store.scan(nodeKind)]) {
      if (!this.isReady(node)) continue;
      const name = String(metaOf(node).name);
      const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date(now).toISOString().replace('Z', '000Z') };
      const lease = this.store.find(leaseKind, 'kube-node-lease', name);
      if (lease) this.store.update(leaseKind, 'kube-node-lease', name, { ...lease, spec });
      else {
        const owner = { apiVersion: 'v1', kind: 'Node', name, uid: String(metaOf(node).uid) };
        this.store.create(leaseKind, 'kube-node-lease', { metadata: { name, namespace: 'kube-node-lease', ownerReferences: [owner] }, spec });
      }
    }
    this.heartbeat = this.options.clock.after(this.options.heartbeatMs, () => this.beat());
  }

  private isReady(node: JsonObject): boolean {
    return objectItems(objectAt(node, 'status')?.conditions).some(([, c]) => c.type === 'Ready' && c.status === 'True');
  }

  /** Sets a node's Ready condition (and the not-ready taints, as the node lifecycle controller does). */
  setNodeReady(name: string, ready: boolean): void {
    const node = this.store.get(nodeKind, undefined, name);
    const now = timestamp(this.options.clock.now());
    const status = clone(objectAt(node, 'status') ?? {});
    const others = objectItems(status.conditions).filter(([, c]) => c.type !== 'Ready').map(([, c]) => c);
    status.conditions = [
      ...others,
      { type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady', message: ready ? 'kubelet is posting ready status' : 'kubelet stopped posting node status', lastHeartbeatTime: now, lastTransitionTime: now },
    ];
    const withStatus = this.store.update(nodeKind, undefined, name, { ...node, status }, { subresource: 'status' });
    const spec = clone(objectAt(withStatus, 'spec') ?? {});
    const taints = objectItems(spec.taints).map(([, t]) => t).filter((t) => t.key !== 'node.kubernetes.io/not-ready');
    spec.taints = ready ? taints : [...taints, ...NOT_READY_TAINTS.map((t) => ({ ...t, timeAdded: now }))];
    if (spec.taints.length === 0) delete spec.taints;
    this.store.update(nodeKind, undefined, name, { ...withStatus, spec });
  }

  /** Stops every workload (waiting for real processes to exit) and every timer. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.reconciler.stop();
    this.heartbeat?.cancel();
    const runs = [...this.runs.values()];
    this.runs.clear();
    for (const run of runs) run.starting?.cancel();
    await Promise.all(runs.map((run) => run.stopping ?? run.agent?.stop(2000)));
  }
}
