import { ApiException, AuthenticationV1Api, CoreV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Node, type V1Pod, type V1Taint } from '@kubernetes/client-node';
import type { PoolConfig } from '../../config.js';
import type { NodeBackend, NodeHandle, NodeStartSpec } from '../backend.js';
import type { NodePrincipal } from '../node-directory.js';
import { verifyAgentToken } from './agent-identity.js';
import { AGENT_NAMESPACE, AGENT_POD_SELECTOR, LEASED_LABEL, nodeIsReady, POOL_LABEL, RETIRED_LABEL, TENANT_LABEL } from './cluster-names.js';
import { keepInformer, type KeptInformer } from './kept-informer.js';
import { publishLeaseEvent } from './lease-events.js';
import { machineOf, type KubeLeaseRecord, type MachineJournal } from './machine-journal.js';
import { TenantNetworkPolicies } from './tenant-network-policies.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** How often a lease waiting for a free node looks again when the node informer says nothing. */
const RESCAN_MS = 1_000;

/** Options of the Kubernetes backend. */
export interface KubeBackendOptions {
  readonly config: KubeConfig;
  readonly journal: MachineJournal;
  /** The runtime's pools of kind `kubernetes`. */
  readonly pools: readonly PoolConfig[];
  /** Where the backend says what it did on its own (a node lost, retired, released at start). */
  readonly log: (line: string) => void;
}

/** One lease as the backend holds it: the node it took once it has one, and its agent's pod once joined. */
interface KubeLease {
  readonly spec: NodeStartSpec;
  node?: string;
  /** The agent's pod once it joined, and the node identity its connections carry. */
  agent?: { readonly pod: string; readonly podUid: string; readonly principal: NodePrincipal };
  /** Asked to go (released, or the runtime is closing): it takes no node, and lets go of the one it has. */
  stopping: boolean;
  exitReason?: string;
  readonly listeners: Array<(reason: string) => void>;
  /** Where the search for a node stands, for the allocation timeout's message. */
  searching: string;
}

/**
 * Nodes of a Kubernetes cluster (pools of kind `kubernetes`: the nodes labelled
 * `lzy.dev/pool=NAME`). A lease takes a Ready, schedulable node of its pool that was never
 * leased, labels and taints it for its tenant with the node's resourceVersion as a precondition
 * (a 409 means another writer won it: the lease takes another), and the node-agent DaemonSet
 * starts an agent there, which joins with its pod's token (see `admit`). Release removes the
 * `lzy.dev/leased` label, cordons the node, evicts the agent and deletes the Node; the cluster's
 * provisioner replaces it with a clean machine. Every step is journaled before it is taken, every
 * machine leased is remembered for good, and a Node whose machine served a tenant before is
 * retired (cordoned, `lzy.dev/retired=true`), never leased again. Informers on the pools' Nodes
 * and the agent pods end a lease whose node goes NotReady or away, or whose agent pod is gone.
 * Each tenant with a lease has a NetworkPolicy in the agents' namespace, written before its first
 * agent pod is labelled for it and removed once it has no lease and no agent pod left.
 */
export class KubeBackend implements NodeBackend {
  private readonly core: CoreV1Api;
  private readonly auth: AuthenticationV1Api;
  private readonly policies: TenantNetworkPolicies;
  /** The agent pods as the pod informer last saw them, by name: admitting an agent needs no read of its pod. */
  private readonly agentPods = new Map<string, V1Pod>();
  /** The agent pods labelled for a tenant, by pod name, as the pod informer last saw them. */
  private readonly tenantPods = new Map<string, string>();
  /** The pools' Nodes as the node informer last saw them, by name: where a lease looks for a free node. */
  private readonly poolNodes = new Map<string, V1Node>();
  /** Leases holding a node, by node name. */
  private readonly byNode = new Map<string, KubeLease>();
  private readonly live = new Set<KubeLease>();
  /** Nodes a lease is labelling right now: no other lease of this runtime tries them. */
  private readonly claiming = new Set<string>();
  private readonly releases = new Set<Promise<void>>();
  private wakeups: Array<() => void> = [];
  private informers: KeptInformer[] = [];
  private closed = false;

  private constructor(private readonly options: KubeBackendOptions) {
    this.core = options.config.makeApiClient(CoreV1Api);
    this.auth = options.config.makeApiClient(AuthenticationV1Api);
    this.policies = new TenantNetworkPolicies(options.config.makeApiClient(NetworkingV1Api), (tenant) => this.tenantInUse(tenant));
  }

  /**
   * Connects to the cluster, releases what a previous run of the runtime left leased (the leases
   * in its journal and every node of the pools labelled for a tenant: none is live now), starts
   * watching the pools' Nodes and the agent pods, and removes the NetworkPolicies of tenants
   * without an agent pod left.
   */
  static async start(options: KubeBackendOptions): Promise<KubeBackend> {
    const backend = new KubeBackend(options);
    await backend.reconcile();
    const pools = options.pools.map((pool) => pool.name).join(',');
    const nodeSelector = `${POOL_LABEL} in (${pools})`;
    backend.informers.push(
      await keepInformer<V1Node>(options.config, '/api/v1/nodes', () => backend.core.listNode({ labelSelector: nodeSelector }), nodeSelector, {
        changed: (node) => backend.nodeChanged(node),
        deleted: (node) => backend.nodeGone(node),
        failed: (error, retryInMs) => options.log(`the watch of the pools' nodes failed (${describe(error)}); again in ${retryInMs} ms`),
      }),
      await keepInformer<V1Pod>(
        options.config,
        `/api/v1/namespaces/${AGENT_NAMESPACE}/pods`,
        () => backend.core.listNamespacedPod({ namespace: AGENT_NAMESPACE, labelSelector: AGENT_POD_SELECTOR }),
        AGENT_POD_SELECTOR,
        {
          changed: (pod) => backend.agentPodChanged(pod),
          deleted: (pod) => backend.agentPodGone(pod),
          failed: (error, retryInMs) => options.log(`the watch of the agent pods failed (${describe(error)}); again in ${retryInMs} ms`),
        },
      ),
    );
    for (const tenant of await backend.policies.fencedTenants()) backend.unfence(tenant);
    return backend;
  }

  start(spec: NodeStartSpec): NodeHandle {
    if (this.closed) throw new Error('the Kubernetes backend is closed: the runtime is shutting down');
    const lease: KubeLease = { spec, stopping: false, listeners: [], searching: `looking for a free node of pool ${spec.pool.name}` };
    this.live.add(lease);
    publishLeaseEvent({ event: 'requested', nodeId: spec.nodeId, tenant: spec.tenant, pool: spec.pool.name });
    void this.acquire(lease);
    return {
      onExit: (listener) => {
        if (lease.exitReason !== undefined) listener(lease.exitReason);
        else lease.listeners.push(listener);
      },
      stop: () => this.release(lease, 'released'),
      kill: () => this.release(lease, 'released'),
      describe: () => lease.searching,
    };
  }

  /**
   * The node identity of a node-agent presenting its pod's projected token: the token must pass
   * `verifyAgentToken`, and its pod run on a node that a lease of this runtime holds. The first
   * agent to join binds the node to that lease's tenant; its agent pod is then labelled with the
   * tenant, once the tenant's NetworkPolicy is in the cluster (a labelled pod leaves deploy/'s
   * default-deny policy, so it must find its tenant's fence there). The same pod (same uid) joins
   * again after its connection dropped (`connected` says it is closed), keeping the lease and its
   * identity; any other agent, or a second connection while the first is open, is refused. Throws,
   * saying why, otherwise.
   */
  async admit(token: string, connected: (node: NodePrincipal) => boolean): Promise<NodePrincipal> {
    const seenPod = (name: string, uid: string) => {
      const pod = this.agentPods.get(name);
      return pod?.metadata?.uid === uid ? pod : undefined;
    };
    const agent = await verifyAgentToken({ core: this.core, auth: this.auth }, token, seenPod);
    const lease = this.byNode.get(agent.node);
    if (!lease || lease.stopping || lease.exitReason !== undefined) throw new Error(`node ${agent.node} is not leased by this runtime`);
    const { nodeId, tenant, pool } = lease.spec;
    if (lease.agent !== undefined) {
      const samePod = lease.agent.pod === agent.pod && lease.agent.podUid === agent.podUid;
      if (samePod && !connected(lease.agent.principal)) return lease.agent.principal;
      const why = samePod ? 'and its connection is still open' : `(pod ${lease.agent.pod})`;
      throw new Error(`the agent of node ${agent.node} has joined already ${why}`);
    }
    const principal: NodePrincipal = { kind: 'node', nodeId, tenant, pool: pool.name, joined: false };
    lease.agent = { pod: agent.pod, podUid: agent.podUid, principal };
    publishLeaseEvent({ event: 'joined', nodeId, tenant, pool: pool.name, node: agent.node });
    this.policies
      .withFence(tenant, async () => {
        if (!lease.stopping) await this.patchPod(agent.pod, { metadata: { labels: { [TENANT_LABEL]: tenant } } });
      })
      .catch((error: unknown) =>
        this.options.log(`could not label agent pod ${agent.pod} with its tenant (it stays under the default-deny policy): ${describe(error)}`),
      );
    return principal;
  }

  /**
   * Stops watching and releases every node still leased; resolves once they are deleted and the
   * NetworkPolicy writes asked for are done (policies of tenants whose agent pods were still there
   * are removed at the next start).
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.informers.map((informer) => informer.stop()));
    for (const lease of this.live) this.release(lease, 'the runtime is shutting down');
    this.wake();
    while (this.releases.size > 0) await Promise.all(this.releases);
    await this.policies.settled();
  }

  /** Looks for a free node until it has one or the lease is released (the allocation timeout releases it). */
  private async acquire(lease: KubeLease): Promise<void> {
    while (!lease.stopping) {
      try {
        if (await this.tryLease(lease)) return;
      } catch (error) {
        lease.searching = `could not lease a node of pool ${lease.spec.pool.name}: ${describe(error)}`;
      }
      await this.nextChange();
    }
  }

  /**
   * Takes one free node of the lease's pool, if there is one: from the node informer's view, not a
   * list per attempt (a thousand-node cluster with many leases in flight would spend its time
   * listing). A view a little behind is safe: the patch's resourceVersion precondition fails on a
   * node changed since (409), and the lease tries the next.
   */
  private async tryLease(lease: KubeLease): Promise<boolean> {
    const { tenant, pool } = lease.spec;
    const items = [...this.poolNodes.values()].filter((node) => {
      const labels = node.metadata?.labels ?? {};
      return labels[POOL_LABEL] === pool.name && labels[TENANT_LABEL] === undefined && labels[RETIRED_LABEL] === undefined;
    });
    let notReady = 0;
    for (const node of shuffled(items)) {
      const name = node.metadata?.name;
      if (lease.stopping) return true;
      if (!name || this.claiming.has(name) || this.byNode.has(name)) continue;
      if (!nodeIsReady(node) || node.spec?.unschedulable) {
        notReady++;
        continue;
      }
      const machine = machineOf(node);
      if (this.options.journal.tenantOf(machine) !== undefined) {
        await this.retire(node);
        continue;
      }
      this.claiming.add(name);
      try {
        const record: KubeLeaseRecord = { node: name, tenant, pool: pool.name, state: 'leasing', machine };
        await this.options.journal.record(record);
        try {
          await this.core.patchNode({ name, body: leasePatch(node, tenant) }, mergePatch);
        } catch (error) {
          // Another writer changed the node first (or it is gone): it is not ours; try the next.
          if (statusOf(error) === 409 || statusOf(error) === 404) {
            await this.options.journal.forget(name);
            continue;
          }
          // The patch may have landed: the node is released as if it had.
          this.byNode.set(name, lease);
          lease.node = name;
          this.release(lease, `labelling node ${name} failed: ${describe(error)}`);
          return true;
        }
        // Not waited for: a restart handles a lease journaled as leasing just as one journaled as
        // leased (its node is released), and a later record of the node is written after this one.
        this.options.journal.record({ ...record, state: 'leased' }).catch((error: unknown) => this.options.log(`could not journal the lease of node ${name}: ${describe(error)}`));
        publishLeaseEvent({ event: 'leased', nodeId: lease.spec.nodeId, tenant, pool: pool.name, node: name });
        lease.node = name;
        this.byNode.set(name, lease);
        lease.searching = `node ${name} of pool ${pool.name} is leased; waiting for its node-agent to join`;
        if (lease.stopping) this.releaseNode(lease);
        return true;
      } finally {
        this.claiming.delete(name);
      }
    }
    lease.searching = `no free node in pool ${pool.name} (${items.length} never leased, ${notReady} of them not ready or cordoned)`;
    return false;
  }

  /** Ends a lease: its node, if it took one, is released; its listeners hear `reason`. */
  private release(lease: KubeLease, reason: string): void {
    if (lease.stopping) return;
    lease.stopping = true;
    this.live.delete(lease);
    if (lease.node !== undefined) this.releaseNode(lease);
    else this.exit(lease, reason);
    this.wake();
  }

  private releaseNode(lease: KubeLease): void {
    const name = lease.node!;
    const done = this.drainAndDelete({ node: name, tenant: lease.spec.tenant, pool: lease.spec.pool.name, state: 'releasing', machine: {} })
      .catch((error: unknown) => this.options.log(`releasing node ${name} failed (${describe(error)}); it is released at the next start`))
      .finally(() => {
        this.releases.delete(done);
        if (this.byNode.get(name) === lease) this.byNode.delete(name);
        this.exit(lease, `node ${name} was released`);
        this.unfence(lease.spec.tenant);
      });
    this.releases.add(done);
  }

  /**
   * Journals the release of `record.node`, then takes it away for good: no more `lzy.dev/leased`
   * (so the DaemonSet does not bring its agent back), cordoned, its agent pods evicted, the Node
   * deleted. A node gone already is fine.
   */
  private async drainAndDelete(record: KubeLeaseRecord): Promise<void> {
    const previous = this.options.journal.inFlight().find((lease) => lease.node === record.node);
    await this.options.journal.record({ ...(previous ?? record), state: 'releasing' });
    const name = record.node;
    await ignoreMissing(this.core.patchNode({ name, body: { metadata: { labels: { [LEASED_LABEL]: null } }, spec: { unschedulable: true } } }, mergePatch));
    const pods = await this.core.listNamespacedPod({ namespace: AGENT_NAMESPACE, labelSelector: AGENT_POD_SELECTOR, fieldSelector: `spec.nodeName=${name}` });
    for (const pod of pods.items) {
      const podName = pod.metadata?.name;
      if (podName) {
        await ignoreMissing(
          this.core.createNamespacedPodEviction({ name: podName, namespace: AGENT_NAMESPACE, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: podName, namespace: AGENT_NAMESPACE } } }),
        );
      }
    }
    await ignoreMissing(this.core.deleteNode({ name }));
    await this.options.journal.forget(name);
  }

  /**
   * After a restart no lease is live: every lease journaled, and every node of the pools labelled
   * for a tenant, is released. A node another writer labelled for another tenant is left alone.
   */
  private async reconcile(): Promise<void> {
    const pools = this.options.pools.map((pool) => pool.name).join(',');
    for (const record of this.options.journal.inFlight()) {
      const node = await this.core.readNode({ name: record.node }).catch((error: unknown) => {
        if (statusOf(error) === 404) return undefined;
        throw error;
      });
      const owner = node?.metadata?.labels?.[TENANT_LABEL];
      if (node && (owner === undefined || owner === record.tenant)) {
        this.options.log(`releasing node ${record.node}, leased to ${record.tenant} before the runtime restarted`);
        await this.drainAndDelete(record);
      } else await this.options.journal.forget(record.node);
    }
    const { items } = await this.core.listNode({ labelSelector: `${POOL_LABEL} in (${pools}),${TENANT_LABEL}` });
    for (const node of items) {
      const name = node.metadata!.name!;
      this.options.log(`releasing node ${name}, labelled for tenant ${node.metadata?.labels?.[TENANT_LABEL]} with no live lease`);
      await this.drainAndDelete({ node: name, tenant: node.metadata?.labels?.[TENANT_LABEL] ?? '', pool: node.metadata?.labels?.[POOL_LABEL] ?? '', state: 'releasing', machine: machineOf(node) });
    }
  }

  /** A pool's node appeared or changed: a lease whose node is not Ready loses it; a free node of a known machine is retired. */
  private nodeChanged(node: V1Node): void {
    const name = node.metadata?.name;
    if (!name) return;
    this.poolNodes.set(name, node);
    // A lease letting go of its node no longer owns it: the Node may be back already, registered again by its machine.
    const lease = this.byNode.get(name);
    if (lease && !lease.stopping) {
      if (!nodeIsReady(node)) this.lose(name, `node ${name} is not Ready`);
      return;
    }
    const labels = node.metadata?.labels ?? {};
    if (labels[TENANT_LABEL] === undefined && labels[RETIRED_LABEL] === undefined && this.options.journal.tenantOf(machineOf(node)) !== undefined) {
      void this.retire(node);
      return;
    }
    this.wake();
  }

  /** A pool's node was deleted: its lease, if one holds it, loses it. */
  private nodeGone(node: V1Node): void {
    const name = node.metadata?.name;
    if (name === undefined) return;
    this.poolNodes.delete(name);
    this.lose(name, `node ${name} was deleted`);
  }

  private agentPodChanged(pod: V1Pod): void {
    const name = pod.metadata?.name;
    const tenant = pod.metadata?.labels?.[TENANT_LABEL];
    if (name !== undefined) this.agentPods.set(name, pod);
    if (name !== undefined && tenant !== undefined) this.tenantPods.set(name, tenant);
  }

  private agentPodGone(pod: V1Pod): void {
    const name = pod.metadata?.name;
    if (name !== undefined && this.agentPods.get(name)?.metadata?.uid === pod.metadata?.uid) this.agentPods.delete(name);
    const tenant = name === undefined ? undefined : this.tenantPods.get(name);
    if (name !== undefined && tenant !== undefined) {
      this.tenantPods.delete(name);
      this.unfence(tenant);
    }
    const node = pod.spec?.nodeName;
    const lease = node === undefined ? undefined : this.byNode.get(node);
    if (lease && lease.agent?.pod === pod.metadata?.name) this.lose(node, `the node-agent pod ${pod.metadata?.name} on node ${node} is gone`);
  }

  /** The node `name` is lost to its lease: the lease hears it (its ops run again elsewhere) and the node is released. */
  private lose(name: string | undefined, reason: string): void {
    const lease = name === undefined ? undefined : this.byNode.get(name);
    if (!lease || lease.stopping) return;
    this.options.log(`${reason}: the lease of tenant ${lease.spec.tenant} loses it`);
    this.exit(lease, reason);
    this.release(lease, reason);
  }

  /** Whether `tenant` has a lease (searching, holding or releasing a node) or an agent pod labelled for it. */
  private tenantInUse(tenant: string): boolean {
    const leases = [...this.live, ...this.byNode.values()];
    return leases.some((lease) => lease.spec.tenant === tenant) || [...this.tenantPods.values()].includes(tenant);
  }

  /** Removes `tenant`'s NetworkPolicy if the tenant is no longer in use. */
  private unfence(tenant: string): void {
    this.policies.unfenceIfIdle(tenant).catch((error: unknown) => this.options.log(`could not remove the NetworkPolicy of tenant ${tenant}: ${describe(error)}`));
  }

  /** A Node whose machine served a tenant before comes back: cordoned and labelled retired, until the provisioner removes it. */
  private async retire(node: V1Node): Promise<void> {
    const name = node.metadata!.name!;
    this.options.log(`node ${name} runs on a machine leased before: retiring it`);
    await ignoreMissing(this.core.patchNode({ name, body: { metadata: { labels: { [RETIRED_LABEL]: 'true' } }, spec: { unschedulable: true } } }, mergePatch)).catch(
      (error: unknown) => this.options.log(`could not retire node ${name}: ${describe(error)}`),
    );
  }

  private async patchPod(name: string, body: object): Promise<void> {
    await this.core.patchNamespacedPod({ name, namespace: AGENT_NAMESPACE, body }, mergePatch);
  }

  private exit(lease: KubeLease, reason: string): void {
    if (lease.exitReason !== undefined) return;
    lease.exitReason = reason;
    lease.listeners.splice(0).forEach((listener) => listener(reason));
  }

  /** Resolves at the next change of the pools' nodes, or after a while. */
  private nextChange(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, RESCAN_MS);
      timer.unref();
      this.wakeups.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const wakeups = this.wakeups;
    this.wakeups = [];
    wakeups.forEach((wakeup) => wakeup());
  }
}

/**
 * The merge patch that leases `node` to `tenant`: its resourceVersion as a precondition, the
 * tenant and leased labels, and the tenant's NoSchedule and NoExecute taints beside the node's own.
 */
function leasePatch(node: V1Node, tenant: string): object {
  const taints: V1Taint[] = (node.spec?.taints ?? []).filter((taint) => taint.key !== TENANT_LABEL);
  taints.push({ key: TENANT_LABEL, value: tenant, effect: 'NoSchedule' }, { key: TENANT_LABEL, value: tenant, effect: 'NoExecute' });
  return {
    metadata: { resourceVersion: node.metadata?.resourceVersion, labels: { [TENANT_LABEL]: tenant, [LEASED_LABEL]: 'true' } },
    spec: { taints },
  };
}

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

async function ignoreMissing(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
}

function describe(error: unknown): string {
  if (error instanceof ApiException) {
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body);
    const message = /"message":"([^"]*)"/.exec(body ?? '')?.[1];
    return `HTTP ${error.code}${message ? `: ${message}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
