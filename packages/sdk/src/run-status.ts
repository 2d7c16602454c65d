import type { OpInfo, RuntimeConnection, WorkflowDetail } from '@lzy/runtime';
import { MAX_DESCRIBE_OPS } from '@lzy/runtime/protocol';

/** A run with all its ops, and the ids of the ops on its critical path, first to last. */
export interface RunStatus extends Omit<WorkflowDetail, 'more'> {
  criticalPath: string[];
}

/** Where an op's time went, summed over its attempts, in ms (`commitMs`: journaling its outcome, when known). */
export interface OpPhases {
  queueMs: number;
  allocateMs: number;
  transferInMs: number;
  runMs: number;
  transferOutMs: number;
  commitMs?: number;
}

/** The run `workflowId` with all its ops, page by page, and its critical path. */
export async function describeRun(connection: RuntimeConnection, workflowId: string): Promise<RunStatus> {
  const { more, ...detail } = await connection.describe(workflowId, 0, MAX_DESCRIBE_OPS);
  let hasMore = more;
  while (hasMore) {
    const page = await connection.describe(workflowId, detail.ops.length, MAX_DESCRIBE_OPS);
    detail.ops.push(...page.ops);
    hasMore = page.more;
  }
  return { ...detail, criticalPath: criticalPath(detail.ops) };
}

/**
 * The chain of ops that decided when the run's work ended: the op that ended last, then the input
 * of it that ended last, and so on back to an op that took no other op's result. Ops that never
 * ended (cancelled, still running) are left out. First to last.
 */
export function criticalPath(ops: readonly OpInfo[]): string[] {
  const byId = new Map(ops.map((op) => [op.opId, op]));
  const latest = (candidates: Iterable<OpInfo | undefined>) => {
    let last: OpInfo | undefined;
    for (const op of candidates) if (op?.endedAt !== undefined && (last === undefined || op.endedAt > last.endedAt!)) last = op;
    return last;
  };
  const path: string[] = [];
  for (let op = latest(ops); op; op = latest((op.after ?? []).map((id) => byId.get(id)))) path.push(op.opId);
  return path.reverse();
}

/** Where `op`'s time went, summed over the attempts it kept timings of. */
export function phasesOf(op: OpInfo): OpPhases {
  const phases: OpPhases = { queueMs: 0, allocateMs: 0, transferInMs: 0, runMs: 0, transferOutMs: 0 };
  for (const attempt of op.timings ?? []) {
    phases.queueMs += attempt.queueMs;
    phases.allocateMs += attempt.allocateMs;
    phases.transferInMs += attempt.transferInMs;
    phases.runMs += attempt.runMs;
    phases.transferOutMs += attempt.transferOutMs;
  }
  if (op.commitMs !== undefined) phases.commitMs = op.commitMs;
  return phases;
}
