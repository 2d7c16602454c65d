import type { RuntimeConnection } from '../client.js';
import type { OpCounts } from '../protocol/client.js';
import type { WorkflowInfo } from '../protocol/gateway.js';

/** How many of the newest runs the runs page is told the op counts of (each is one ask of its run). */
export const RUNS_WITH_COUNTS = 50;

/** A run as the runs page lists it; `counts` for the newest `RUNS_WITH_COUNTS` only. */
export type ListedRun = WorkflowInfo & { counts?: OpCounts };

/** The connection's tenant's runs, newest first, the newest with their ops' counts. */
export async function listRuns(connection: RuntimeConnection): Promise<ListedRun[]> {
  const runs: ListedRun[] = (await connection.list()).sort((a, b) => b.startedAt - a.startedAt);
  await Promise.all(
    runs.slice(0, RUNS_WITH_COUNTS).map(async (run) => {
      // A run that went from the list since (its records expired) is listed without counts.
      const counts = await connection.describe(run.workflowId, 0, 0).then(({ counts }) => counts, () => undefined);
      if (counts) run.counts = counts;
    }),
  );
  return runs;
}
