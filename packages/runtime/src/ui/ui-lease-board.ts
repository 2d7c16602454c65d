import type { LeaseStatus } from '../allocator/lease.js';
import { leaseChanged, type LeaseChanged } from '../observe/events.js';
import { Subscriptions } from '../observe/subscriptions.js';

/** A node lease as the pools page shows it: whose, where, in what state since when. */
export interface LeaseView {
  readonly nodeId: string;
  readonly pool: string;
  readonly tenant: string;
  readonly state: LeaseStatus;
  /** When it came to this state (ms since the epoch). */
  readonly since: number;
  readonly reason?: string;
}

/** How many leases that have gone the board still shows, the latest. */
export const GONE_LEASES_KEPT = 200;

/**
 * The node leases of this process's runtime as the dashboard's pools page shows them, from the
 * leases' state changes (the same events the metrics count): each live one, and the latest gone
 * ones. It knows the leases made since the process started.
 */
export class LeaseBoard {
  private readonly leases = new Map<string, LeaseView>();
  private readonly gone: LeaseView[] = [];
  private readonly subscriptions = new Subscriptions();

  constructor(private readonly now: () => number = Date.now) {
    this.subscriptions.on(leaseChanged, (event: LeaseChanged) => this.changed(event));
  }

  /** Live leases, then the gone ones, newest first; of `tenant` only when given. */
  list(tenant?: string): LeaseView[] {
    const all = [...[...this.leases.values()].sort((a, b) => b.since - a.since), ...[...this.gone].reverse()];
    return tenant === undefined ? all : all.filter((lease) => lease.tenant === tenant);
  }

  close(): void {
    this.subscriptions.close();
  }

  private changed({ nodeId, pool, tenant, status, reason }: LeaseChanged): void {
    const view: LeaseView = { nodeId, pool, tenant, state: status, since: this.now(), ...(reason === undefined ? {} : { reason }) };
    if (status !== 'gone') {
      this.leases.set(nodeId, view);
      return;
    }
    this.leases.delete(nodeId);
    this.gone.push(view);
    if (this.gone.length > GONE_LEASES_KEPT) this.gone.shift();
  }
}
