import type { RuntimeConnection } from '../client.js';
import type { LogEntry } from '../protocol/records.js';

/** Entries read from a run's log per ask. */
const PAGE = 1000;
/** Most entries of one op the page is given: its last ones. */
export const MAX_OP_LOG_ENTRIES = 2000;

/** The output of op `opId` of run `workflowId` so far (its last `MAX_OP_LOG_ENTRIES` entries), without waiting for more. */
export async function opLog(connection: RuntimeConnection, workflowId: string, opId: string): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  let after = 0;
  for (;;) {
    // A page may hold fewer than asked (no more text than fits a message): the log ends at an empty one.
    const page = await connection.logs(workflowId, after, PAGE, 0);
    if (page.entries.length === 0) return entries;
    for (const entry of page.entries) if (entry.opId === opId) entries.push(entry);
    if (entries.length > MAX_OP_LOG_ENTRIES) entries.splice(0, entries.length - MAX_OP_LOG_ENTRIES);
    after = page.entries.at(-1)!.seq;
  }
}
