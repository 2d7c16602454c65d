import type { Database, RootDatabase } from 'lmdb';
import type { WhiteboardQuery, WhiteboardRecord } from '../protocol/records.js';

type Key = [tenant: string, createdAt: number, id: string];

/**
 * Finalized whiteboards of every tenant, in the runtime's lmdb environment, ordered by creation
 * time per tenant so that a time range is one range read.
 */
export class WhiteboardIndex {
  private readonly db: Database<WhiteboardRecord, Key>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<WhiteboardRecord, Key>({ name: 'whiteboards' });
  }

  /** Stores a finalized whiteboard; resolves once it is on disk. */
  async put(tenant: string, record: WhiteboardRecord): Promise<void> {
    await this.db.put([tenant, record.createdAt, record.id], record);
  }

  /** The tenant's whiteboards that match `query`, newest first. */
  find(tenant: string, query: WhiteboardQuery): WhiteboardRecord[] {
    const found: WhiteboardRecord[] = [];
    // Newest first: from `until` (or the end of time) down to the tenant's first key.
    const range = this.db.getRange({ start: [tenant, query.until ?? Number.MAX_SAFE_INTEGER], end: [tenant], reverse: true });
    for (const { key, value } of range) {
      if (query.since !== undefined && key[1] < query.since) break;
      // The range's start is inclusive: `until` is not.
      if (query.until !== undefined && key[1] >= query.until) continue;
      if (query.name !== undefined && value.name !== query.name) continue;
      if (query.tags && !query.tags.every((tag) => value.tags.includes(tag))) continue;
      found.push(value);
    }
    return found;
  }
}
