import { channel } from 'node:diagnostics_channel';

/** The diagnostics channel on which the Kubernetes backend publishes each lease's steps (`KubeLeaseEvent`s). */
export const KUBE_LEASE_CHANNEL = 'lzy:kube-lease';

/** A step of a Kubernetes lease: asked for by the pool, its node labelled for the tenant (leased), its node's agent admitted (joined). */
export interface KubeLeaseEvent {
  readonly event: 'requested' | 'leased' | 'joined';
  readonly nodeId: string;
  readonly tenant: string;
  readonly pool: string;
  /** The Node's name, once the lease has one. */
  readonly node?: string;
}

const leaseEvents = channel(KUBE_LEASE_CHANNEL);

/** Publishes `event` if anyone listens (a check that costs nothing otherwise). */
export function publishLeaseEvent(event: KubeLeaseEvent): void {
  if (leaseEvents.hasSubscribers) leaseEvents.publish(event);
}
