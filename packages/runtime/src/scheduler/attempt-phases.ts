import type { AttemptFinished } from '@lzy/node-agent/protocol';
import type { AttemptTimings } from '../protocol/client.js';

/** Where an attempt's time went, as the scheduler tells its op: its timings but the attempt's number and outcome, which the op knows. */
export type AttemptPhases = Omit<AttemptTimings, 'attempt' | 'ok'>;

/** How long an attempt waited in the scheduler before it was given to a node: for a node to come up, then for a slot. */
export interface SchedulerWait {
  queueMs: number;
  allocateMs: number;
}

/**
 * The scheduler's wait of an attempt queued at `queuedAt` and given at `now` to a node that came up
 * at `nodeUpAt` (all performance.now()): the time until the node came up is allocation when it came
 * up after the attempt was queued; the rest is queueing.
 */
export function waitOf(queuedAt: number, nodeUpAt: number, now: number): SchedulerWait {
  return nodeUpAt > queuedAt ? { queueMs: now - nodeUpAt, allocateMs: nodeUpAt - queuedAt } : { queueMs: now - queuedAt, allocateMs: 0 };
}

/**
 * An attempt's phases from the scheduler's wait and what its node reported (nothing when it never
 * reached a node, or the node was lost): the node's wait for a free runner counts as queueing.
 */
export function attemptPhases(wait: SchedulerWait | undefined, nodeId: string | undefined, finished?: Pick<AttemptFinished, 'runMs' | 'phases'>): AttemptPhases {
  const node = finished?.phases;
  const phases: AttemptPhases = {
    queueMs: (wait?.queueMs ?? 0) + (node?.waitMs ?? 0),
    allocateMs: wait?.allocateMs ?? 0,
    transferInMs: node?.transferInMs ?? 0,
    runMs: finished?.runMs ?? 0,
    transferOutMs: node?.transferOutMs ?? 0,
  };
  if (nodeId !== undefined) phases.nodeId = nodeId;
  return phases;
}
