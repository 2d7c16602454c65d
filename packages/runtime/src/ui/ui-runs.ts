import type { RuntimeConnection } from '../client.js';
import type { OpCounts } from '../protocol/client.js';
import type { WorkflowInfo } from '../protocol/gateway.js';

/** How many of the newest runs the runs page is told the op counts of (each is one ask of its run). */
export const RUNS_WITH_COUNTS = 50;

/** A run as the runs page lists it; `counts` for the newest `RUNS_WITH_COUNTS` only. */
export type ListedRun = WorkflowInfo & { counts?: OpCounts };

/**
 * The connection's tenant's newest runs (as many as one listing gives), the newest with their ops'
 * counts, and how many older runs follow; with `asTenant`, every tenant's (an admin's connection
 * only), each run's counts read through `asTenant(its tenant)`.
 */
export async function listRuns(connection: RuntimeConnection, asTenant?: (tenant: string) => RuntimeConnection): Promise<{ runs: ListedRun[]; more: number }> {
  const { runs, more } = asTenant ? await connection.listAllTenants() : await connection.list();
  const connections = new Map<string, RuntimeConnection>();
  const connectionOf = (tenant: string | undefined) => {
    if (!asTenant || tenant === undefined) return connection;
    if (!connections.has(tenant)) connections.set(tenant, asTenant(tenant));
    return connections.get(tenant)!;
  };
  try {
    await Promise.all(
      runs.slice(0, RUNS_WITH_COUNTS).map(async (run: ListedRun) => {
        // A run that went from the list since (its records expired) is listed without counts.
        const counts = await connectionOf(run.tenant).describe(run.workflowId, 0, 0).then(({ counts }) => counts, () => undefined);
        if (counts) run.counts = counts;
      }),
    );
  } finally {
    await Promise.all([...connections.values()].map((other) => other.close()));
  }
  return { runs, more };
}
