import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { Packr } from 'msgpackr';
import type { PersistedEvent, PersistedSnapshot, PersistenceEngine } from './engine.js';

interface StoredEvent {
  data: unknown;
  tags: string[];
  createdAt: number;
}
interface StoredSnapshot {
  data: unknown;
  sequenceNumber: number;
  createdAt: number;
}

/** lmdb limits keys to 1978 bytes; a journal key is the persistence key plus a sequence number. */
const MAX_KEY_BYTES = 1024;

/**
 * nact's journal and snapshot store in one lmdb environment: events keyed by
 * (persistence key, sequence number), snapshots by persistence key. A `persist` resolves only
 * once its transaction is committed and flushed to disk, so an acknowledged event survives a
 * crash of the process at any instant.
 */
export class LmdbJournal implements PersistenceEngine {
  private readonly eventsDb: Database<StoredEvent, [string, number]>;
  private readonly snapshotsDb: Database<StoredSnapshot, string>;
  private closed = false;

  /** Uses (and closes with `close`) the environment `root`; the runtime shares one per data dir. */
  constructor(
    private readonly root: RootDatabase,
    private readonly ownsRoot = false,
  ) {
    // lmdb encodes with the msgpackr it bundles (1.x); the current one writes the same format in
    // half the time, which matters when a graph journals a batch of thousands of ops. (lmdb takes
    // `encoder` for any database; its types declare it for the root only.)
    const encoder = { Encoder: Packr };
    const events = { name: 'journal.events', encoder };
    const snapshots = { name: 'journal.snapshots', encoder };
    this.eventsDb = root.openDB<StoredEvent, [string, number]>(events);
    this.snapshotsDb = root.openDB<StoredSnapshot, string>(snapshots);
  }

  /** Opens (creating if needed) a journal environment in directory `dir`. */
  static open(dir: string): LmdbJournal {
    mkdirSync(dir, { recursive: true });
    return new LmdbJournal(open({ path: dir, maxDbs: 16 }), true);
  }

  events(key: string, offset = 0, limit?: number): PersistedEvent[] {
    checkKey(key);
    const range = this.eventsDb.getRange({
      start: [key, offset + 1],
      end: [key, Number.MAX_SAFE_INTEGER],
      ...(limit === undefined ? {} : { limit }),
    });
    const events: PersistedEvent[] = [];
    for (const { key: [, sequenceNumber], value } of range) {
      events.push({ key, sequenceNumber, data: value.data, tags: value.tags, createdAt: value.createdAt, isDeleted: false });
    }
    return events;
  }

  async persist(event: PersistedEvent): Promise<void> {
    checkKey(event.key);
    this.checkOpen();
    await this.eventsDb.put([event.key, event.sequenceNumber], {
      data: event.data,
      tags: event.tags,
      createdAt: event.createdAt,
    });
    await this.root.flushed;
  }

  async latestSnapshot(key: string): Promise<PersistedSnapshot | undefined> {
    checkKey(key);
    const stored = this.snapshotsDb.get(key);
    return stored && { key, data: stored.data, sequenceNumber: stored.sequenceNumber, createdAt: stored.createdAt };
  }

  async takeSnapshot(snapshot: PersistedSnapshot): Promise<void> {
    checkKey(snapshot.key);
    this.checkOpen();
    await this.snapshotsDb.put(snapshot.key, {
      data: snapshot.data,
      sequenceNumber: snapshot.sequenceNumber,
      createdAt: snapshot.createdAt,
    });
    await this.root.flushed;
  }

  /** The highest sequence number journaled for `key`, 0 when none. */
  lastSequenceNumber(key: string): number {
    checkKey(key);
    for (const k of this.eventsDb.getKeys({ start: [key, Number.MAX_SAFE_INTEGER], end: [key, 0], reverse: true, limit: 1 })) {
      return k[1];
    }
    return 0;
  }

  /** Removes every event and the snapshot of `key` (a journal whose state lives elsewhere now); resolves once that is on disk. */
  async forget(key: string): Promise<void> {
    checkKey(key);
    this.checkOpen();
    const removals = [this.snapshotsDb.remove(key)];
    for (const k of this.eventsDb.getKeys({ start: [key, 0], end: [key, Number.MAX_SAFE_INTEGER] })) removals.push(this.eventsDb.remove(k));
    await Promise.all(removals);
    await this.root.flushed;
  }

  /** Refuses new writes, waits for the accepted ones, then closes the environment if this journal opened it. */
  async close(): Promise<void> {
    this.closed = true;
    await this.root.flushed;
    if (this.ownsRoot) await this.root.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the journal is closed: nothing more can be persisted');
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('a persistence key must be a non-empty string');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new RangeError(`persistence key of ${Buffer.byteLength(key)} bytes exceeds the limit of ${MAX_KEY_BYTES} bytes`);
  }
}
