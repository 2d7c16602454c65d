import { describeWholeRun, type OpInfo, type RuntimeConnection, type WorkflowDetail } from '@lzy/runtime';

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
  const detail = await describeWholeRun(connection, workflowId);
  return { ...detail, criticalPath: criticalPath(detail.ops) };
}

/**
 * The chain of ops that decided when the run's work ended, first to last: the op that ended last,
 * then what it waited for, and so on. An op waited for the input that ended last among those it
 * takes from other ops; an op that takes none waited for the op that ended last before it started
 * (the workflow awaited it before calling this one, or it held the slot). Ops that never ended
 * (cancelled, still running) are left out.
 */
export function criticalPath(ops: readonly OpInfo[]): string[] {
  const ended = ops.filter((op) => op.endedAt !== undefined).sort((a, b) => a.endedAt! - b.endedAt!);
  const byId = new Map(ended.map((op) => [op.opId, op]));
  /** The op that ended last at or before `at`, other than `op`. */
  const lastBefore = (op: OpInfo, at: number): OpInfo | undefined => {
    let low = 0;
    let high = ended.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (ended[middle]!.endedAt! <= at) low = middle + 1;
      else high = middle;
    }
    for (let i = low - 1; i >= 0; i--) if (ended[i] !== op) return ended[i];
    return undefined;
  };
  const waitedFor = (op: OpInfo): OpInfo | undefined => {
    let input: OpInfo | undefined;
    for (const id of op.after ?? []) {
      const candidate = byId.get(id);
      if (candidate && (input === undefined || candidate.endedAt! > input.endedAt!)) input = candidate;
    }
    return input ?? (op.startedAt === undefined ? undefined : lastBefore(op, op.startedAt));
  };
  const path: string[] = [];
  const seen = new Set<OpInfo>();
  for (let op = ended.at(-1); op && !seen.has(op); op = waitedFor(op)) {
    seen.add(op);
    path.push(op.opId);
  }
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
