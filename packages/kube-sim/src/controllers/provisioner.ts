// The node provisioner: keeps each pool (nodes labelled lzy.dev/pool=NAME) at its size with fresh
// machines, each registering a fresh Node. In `re-register` mode a deleted Node whose machine still
// runs comes back (same name and machine ids, fresh labels, no taints), as kubelets do on clusters
// without Karpenter; a Node labelled lzy.dev/retired=true has its machine ended.
import { randomBytes, randomUUID } from 'node:crypto';
import { nodeKind } from '../kinds/index.js';
import { objectAt, stringAt, type JsonObject } from '../json.js';
import type { ObjectStore } from '../store.js';
import { Reconciler } from './reconciler.js';

/** The pool label. */
export const POOL_LABEL = 'lzy.dev/pool';
/** The label the allocator puts on a Node whose machine must be ended. */
export const RETIRED_LABEL = 'lzy.dev/retired';

/** What happens to a deleted Node's machine: ended with it (Karpenter), or it re-registers the Node (plain kubelets). */
export type DeletedNodeMode = 'terminate' | 're-register';

/** A simulated machine: the ids its kubelet reports, and the Node it registers. */
export interface Machine {
  pool: string;
  nodeName: string;
  providerID: string;
  machineID: string;
  systemUUID: string;
  address: string;
  running: boolean;
}

/** The provisioner's settings. */
export interface ProvisionerOptions {
  pools: Record<string, number>;
  deletedNodes: DeletedNodeMode;
  /** Capacity each node reports. */
  cpu: number;
  memoryMb: number;
}

/** Keeps the pools at size and runs the machines' Node registrations. */
export class NodeProvisioner {
  private readonly machines = new Map<string, Machine>();
  private readonly pools: Map<string, number>;
  private readonly reconciler: Reconciler;
  private serial = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: ProvisionerOptions,
  ) {
    this.pools = new Map(Object.entries(options.pools));
    this.reconciler = new Reconciler(store.hub, (event) => event.kind === nodeKind, () => this.reconcile());
    this.reconcile();
  }

  /** Every machine ever started, by Node name. */
  get allMachines(): Machine[] {
    return [...this.machines.values()];
  }

  /** Sets a pool's size; extra machines are not ended (leased nodes leave through the allocator). */
  setPoolSize(pool: string, size: number): void {
    this.pools.set(pool, size);
    this.reconciler.trigger();
  }

  /** Starts or stops re-registering deleted Nodes of running machines. */
  setDeletedNodeMode(mode: DeletedNodeMode): void {
    this.options.deletedNodes = mode;
  }

  private reconcile(): void {
    const nodes = new Map([...this.store.scan(nodeKind)].map((node) => [String(objectAt(node, 'metadata')?.name), node]));
    for (const [name, node] of nodes) {
      const machine = this.machines.get(name);
      if (machine?.running && objectAt(node, 'metadata')?.labels !== undefined && stringAt(objectAt(objectAt(node, 'metadata'), 'labels'), RETIRED_LABEL) === 'true') {
        machine.running = false;
        this.store.delete(nodeKind, undefined, name);
        nodes.delete(name);
      }
    }
    for (const machine of this.machines.values()) {
      if (!machine.running || nodes.has(machine.nodeName)) continue;
      if (this.options.deletedNodes === 're-register') {
        this.store.create(nodeKind, undefined, this.nodeOf(machine));
        nodes.set(machine.nodeName, {});
      } else machine.running = false;
    }
    for (const [pool, size] of this.pools) {
      const running = [...this.machines.values()].filter((m) => m.pool === pool && m.running).length;
      for (let i = running; i < size; i++) this.start(pool);
    }
  }

  private start(pool: string): void {
    this.serial += 1;
    const id = randomBytes(4).toString('hex');
    const machine: Machine = {
      pool,
      nodeName: `${pool}-${String(this.serial).padStart(4, '0')}-${id.slice(0, 4)}`,
      providerID: `lzy-sim:///${pool}/i-${id}`,
      machineID: randomBytes(16).toString('hex'),
      systemUUID: randomUUID(),
      address: `10.${(this.serial >> 16) & 255}.${(this.serial >> 8) & 255}.${this.serial & 255}`,
      running: true,
    };
    this.machines.set(machine.nodeName, machine);
    this.store.create(nodeKind, undefined, this.nodeOf(machine));
  }

  /** The Node a machine's kubelet registers: fresh labels, no taints, Ready. */
  private nodeOf(machine: Machine): JsonObject {
    const capacity = { cpu: String(this.options.cpu), memory: `${this.options.memoryMb}Mi`, pods: '110' };
    return {
      metadata: {
        name: machine.nodeName,
        labels: {
          [POOL_LABEL]: machine.pool,
          'kubernetes.io/hostname': machine.nodeName,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'node.kubernetes.io/instance-type': 'lzy-sim',
        },
      },
      spec: { providerID: machine.providerID },
      status: {
        capacity,
        allocatable: capacity,
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
        addresses: [
          { type: 'InternalIP', address: machine.address },
          { type: 'Hostname', address: machine.nodeName },
        ],
        nodeInfo: {
          machineID: machine.machineID,
          systemUUID: machine.systemUUID,
          bootID: randomUUID(),
          kernelVersion: '6.1.0-lzy-sim',
          osImage: 'lzy-kube-sim',
          containerRuntimeVersion: 'lzy-sim://1',
          kubeletVersion: 'v1.32.0',
          kubeProxyVersion: 'v1.32.0',
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      },
    };
  }

  /** Stops reacting to Node changes. */
  stop(): void {
    this.reconciler.stop();
  }
}
