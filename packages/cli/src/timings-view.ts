import { phasesOf, type RunStatus } from '@lzy/sdk';
import { duration, durationOf } from './durations.js';
import { textTable } from './text-table.js';

const PHASES = [
  ['QUEUE', 'queueMs'],
  ['ALLOCATE', 'allocateMs'],
  ['TRANSFER IN', 'transferInMs'],
  ['RUN', 'runMs'],
  ['TRANSFER OUT', 'transferOutMs'],
  ['COMMIT', 'commitMs'],
] as const;

/** `lzy status WORKFLOW --timings`: each op's time by phase, summed over its attempts, and the run's critical path (marked `*`). */
export function timingsText({ run, ops, criticalPath }: RunStatus): string {
  const critical = new Set(criticalPath);
  const label = (opId: string, name: string) => `${name}#${opId.slice(0, 8)}`;
  const names = new Map(ops.map((op) => [op.opId, label(op.opId, op.name)]));
  const pathOps = ops.filter((op) => critical.has(op.opId));
  const pathMs = durationOf(pathOps[0]?.startedAt, pathOps.at(-1)?.endedAt);
  const lines = [
    `workflow       ${run.workflowId}`,
    `status         ${run.status}`,
    `duration       ${duration(durationOf(run.startedAt, run.endedAt))}`,
    `critical path  ${criticalPath.length === 0 ? '-' : `${criticalPath.map((id) => names.get(id)).join(' → ')} (${duration(pathMs)})`}`,
  ];
  if (ops.length === 0) return `${lines.join('\n')}\n`;
  const rows = [
    ['', 'OP', 'STATE', 'ATTEMPTS', ...PHASES.map(([title]) => title), 'TOTAL'],
    ...ops.map((op) => {
      const phases = phasesOf(op);
      return [
        critical.has(op.opId) ? '*' : '',
        label(op.opId, op.name),
        op.state,
        String(op.attempts),
        ...PHASES.map(([, key]) => (op.timings || key === 'commitMs' ? duration(phases[key]) : '-')),
        duration(durationOf(op.startedAt, op.endedAt)),
      ];
    }),
  ];
  return `${lines.join('\n')}\n\n${textTable(rows)}`;
}

/** `lzy status WORKFLOW --timings --json`: the same, with each attempt's phases. */
export function timingsJson({ run, ops, criticalPath }: RunStatus) {
  const critical = new Set(criticalPath);
  const durationMs = durationOf(run.startedAt, run.endedAt);
  return {
    ...run,
    ...(durationMs === undefined ? {} : { durationMs }),
    criticalPath,
    ops: ops.map((op) => ({
      opId: op.opId,
      name: op.name,
      state: op.state,
      attempts: op.attempts,
      critical: critical.has(op.opId),
      ...(op.startedAt === undefined ? {} : { startedAt: op.startedAt }),
      ...(op.endedAt === undefined ? {} : { endedAt: op.endedAt }),
      phases: phasesOf(op),
      timings: op.timings ?? [],
    })),
  };
}
