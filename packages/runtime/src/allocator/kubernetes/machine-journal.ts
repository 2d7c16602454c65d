import type { Database, RootDatabase } from 'lmdb';
import type { V1Node } from '@kubernetes/client-node';

/** What names the machine under a Node object; a Node that comes back under another name keeps them. */
export interface MachineIds {
  providerID?: string;
  machineID?: string;
  systemUUID?: string;
}

/** The machine of `node`, by `spec.providerID` and `status.nodeInfo.machineID` / `systemUUID`. */
export function machineOf(node: V1Node): MachineIds {
  const ids: MachineIds = {};
  if (node.spec?.providerID) ids.providerID = node.spec.providerID;
  if (node.status?.nodeInfo?.machineID) ids.machineID = node.status.nodeInfo.machineID;
  if (node.status?.nodeInfo?.systemUUID) ids.systemUUID = node.status.nodeInfo.systemUUID;
  return ids;
}

/** `leasing`: about to label the node; `leased`: labelled, the agent may join; `releasing`: being drained and deleted. */
export type KubeLeaseState = 'leasing' | 'leased' | 'releasing';

/** One lease of a Kubernetes node, as journaled before each of its steps is taken. */
export interface KubeLeaseRecord {
  readonly node: string;
  readonly tenant: string;
  readonly pool: string;
  readonly state: KubeLeaseState;
  readonly machine: MachineIds;
}

/**
 * The Kubernetes allocator's journal, in the runtime's lmdb environment: the leases in flight by
 * node name, and every machine ever leased with its tenant, kept for good. Each write is on disk
 * when its promise resolves, so a step is journaled before the cluster sees it.
 */
export class MachineJournal {
  private readonly leases: Database<KubeLeaseRecord, string>;
  private readonly machines: Database<string, string>;

  constructor(private readonly root: RootDatabase) {
    this.leases = root.openDB<KubeLeaseRecord, string>({ name: 'kube-leases' });
    this.machines = root.openDB<string, string>({ name: 'kube-machines' });
  }

  /**
   * Journals the lease `record`; a lease about to label its node also remembers the node's machine
   * as its tenant's, so that the machine goes to no one else whatever happens next.
   */
  async record(record: KubeLeaseRecord): Promise<void> {
    await this.root.transaction(() => {
      void this.leases.put(record.node, record);
      if (record.state === 'leasing') for (const key of machineKeys(record.machine)) void this.machines.put(key, record.tenant);
    });
  }

  /** The lease of `node` is over: its node is deleted, or was never labelled. */
  async forget(node: string): Promise<void> {
    await this.leases.remove(node);
  }

  /** The leases journaled and not yet over. */
  inFlight(): KubeLeaseRecord[] {
    return [...this.leases.getRange()].map(({ value }) => value);
  }

  /** The tenant the machine was leased to, if it ever was. */
  tenantOf(machine: MachineIds): string | undefined {
    for (const key of machineKeys(machine)) {
      const tenant = this.machines.get(key);
      if (tenant !== undefined) return tenant;
    }
    return undefined;
  }
}

function machineKeys(machine: MachineIds): string[] {
  return (['providerID', 'machineID', 'systemUUID'] as const).filter((field) => machine[field]).map((field) => `${field}\u0000${machine[field]}`);
}
