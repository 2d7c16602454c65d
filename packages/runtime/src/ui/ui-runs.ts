import type { RuntimeConnection } from '../client.js';
import type { OpCounts } from '../protocol/client.js';
import type { WorkflowInfo } from '../protocol/gateway.js';

/** How many of the newest runs the runs page is told the op counts of (each is one ask of its run). */
export const RUNS_WITH_COUNTS = 50;

/** A run as the runs page lists it; `counts` for the newest `RUNS_WITH_COUNTS` only. */
export type ListedRun = WorkflowInfo & { counts?: OpCounts };

/** The connection's tenant's newest runs (as many as one listing gives), the newest with their ops' counts, and how many older runs follow. */
export async function listRuns(connection: RuntimeConnection): Promise<{ runs: ListedRun[]; more: number }> {
  const { runs, more } = await connection.list();
  await Promise.all(
    runs.slice(0, RUNS_WITH_COUNTS).map(async (run: ListedRun) => {
      // A run that went from the list since (its records expired) is listed without counts.
      const counts = await connection.describe(run.workflowId, 0, 0).then(({ counts }) => counts, () => undefined);
      if (counts) run.counts = counts;
    }),
  );
  return { runs, more };
}
