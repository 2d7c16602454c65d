import { channel } from 'node:diagnostics_channel';
import type { AttemptTimings, WorkflowStatus } from '../protocol/client.js';
import type { LeaseStatus } from '../allocator/lease.js';

/**
 * The runtime's state changes as diagnostics channels: the services publish, and whatever watches
 * the runtime (its metrics, its structured log) subscribes. A channel nobody subscribes to costs
 * one check where it would publish, so the hot paths publish freely. Payloads carry ids and
 * figures, never a credential or a value.
 */

/** An attempt of an op ended on a node (or before reaching one): where its time went. */
export interface AttemptEnded {
  readonly tenant: string;
  readonly workflowId: string;
  readonly opId: string;
  readonly opName: string;
  readonly attemptId: string;
  /** Its failure's code when it failed. */
  readonly code?: string;
  readonly timings: AttemptTimings;
}

/** An op's outcome is journaled: `succeeded`, `cached` (taken from the cache), `failed`, or `cancelled` with its graph. */
export interface OpEnded {
  readonly tenant: string;
  readonly workflowId: string;
  readonly opId: string;
  readonly opName: string;
  readonly state: 'succeeded' | 'cached' | 'failed' | 'cancelled';
  readonly attempts: number;
  /** How long its outcome took to be journaled. */
  readonly commitMs?: number;
}

/** A workflow run started (or resumed after a restart: `resumed`) or ended. */
export interface WorkflowChanged {
  readonly tenant: string;
  readonly workflowId: string;
  readonly name: string;
  readonly status: WorkflowStatus;
  readonly resumed?: boolean;
  readonly reason?: string;
}

/** A node lease moved to `status` (`allocating` when it is requested). */
export interface LeaseChanged {
  readonly tenant: string;
  readonly pool: string;
  readonly nodeId: string;
  readonly status: LeaseStatus;
  readonly reason?: string;
}

/** A client's credential was refused at the gateway; `reason` never quotes the credential. */
export interface AuthFailed {
  readonly reason: string;
}

/** A write of a graph's journal became durable, `ms` after it was made. */
export interface JournalCommitted {
  readonly ms: number;
}

export const attemptEnded = channel('lzy:attempt-ended');
export const opEnded = channel('lzy:op-ended');
export const workflowChanged = channel('lzy:workflow-changed');
export const leaseChanged = channel('lzy:lease-changed');
export const authFailed = channel('lzy:auth-failed');
export const journalCommitted = channel('lzy:journal-committed');

/** Publishes `event` on `on` when anyone listens. */
function publisher<T>(on: ReturnType<typeof channel>): (event: T) => void {
  return (event) => {
    if (on.hasSubscribers) on.publish(event);
  };
}

export const publishAttemptEnded = publisher<AttemptEnded>(attemptEnded);
export const publishOpEnded = publisher<OpEnded>(opEnded);
export const publishWorkflowChanged = publisher<WorkflowChanged>(workflowChanged);
export const publishLeaseChanged = publisher<LeaseChanged>(leaseChanged);
export const publishAuthFailed = publisher<AuthFailed>(authFailed);
export const publishJournalCommitted = publisher<JournalCommitted>(journalCommitted);
