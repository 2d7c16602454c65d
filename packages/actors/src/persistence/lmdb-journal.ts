import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { Packr } from 'msgpackr';
import type { PersistedEvent, PersistedSnapshot, PersistenceEngine } from './engine.js';
import type { ArchivedJournal, ArchiveLocation, ArchiveRecord, JournalArchive } from './journal-archive.js';

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
const LAST = Number.MAX_SAFE_INTEGER;

/** Where a journal archives, and which keys go together (archived, and read back, as one record). */
export interface ArchiveOptions {
  readonly store: JournalArchive;
  /** The group of `key`; each key is its own group by default. */
  readonly groupOf?: (key: string) => string;
}

/**
 * nact's journal and snapshot store in one lmdb environment: events keyed by
 * (persistence key, sequence number), snapshots by persistence key. A `persist` resolves only
 * once its transaction is committed and flushed to disk, so an acknowledged event survives a
 * crash of the process at any instant.
 *
 * With an archive, the events of keys that will not change any more can be moved there
 * (`archive`); they are read back from it as if they had stayed. The keys of one group (a run's)
 * are one record there, found through one location in lmdb.
 */
export class LmdbJournal implements PersistenceEngine {
  private readonly eventsDb: Database<StoredEvent, [string, number]>;
  private readonly snapshotsDb: Database<StoredSnapshot, string>;
  /** Where each archived group's journals are in the archive. */
  private readonly archivedDb: Database<ArchiveLocation, string>;
  private readonly groupOf: (key: string) => string;
  private readonly archiveStore: JournalArchive | undefined;
  private closed = false;
  /** The moves to the archive under way, waited for by `close`. */
  private readonly archiving = new Set<Promise<unknown>>();

  /** Uses (and closes with `close`) the environment `root`; the runtime shares one per data dir. */
  constructor(
    private readonly root: RootDatabase,
    private readonly ownsRoot = false,
    archive?: ArchiveOptions,
  ) {
    this.archiveStore = archive?.store;
    this.groupOf = archive?.groupOf ?? ((key) => key);
    // lmdb encodes with the msgpackr it bundles (1.x); the current one writes the same format in
    // half the time, which matters when a graph journals a batch of thousands of ops. (lmdb takes
    // `encoder` for any database; its types declare it for the root only.)
    const encoder = { Encoder: Packr };
    const events = { name: 'journal.events', encoder };
    const snapshots = { name: 'journal.snapshots', encoder };
    this.eventsDb = root.openDB<StoredEvent, [string, number]>(events);
    this.snapshotsDb = root.openDB<StoredSnapshot, string>(snapshots);
    this.archivedDb = root.openDB<ArchiveLocation, string>({ name: 'journal.archived' });
  }

  /** Opens (creating if needed) a journal environment in directory `dir`, with `archive` if given. */
  static open(dir: string, archive?: ArchiveOptions): LmdbJournal {
    mkdirSync(dir, { recursive: true });
    return new LmdbJournal(open({ path: dir, maxDbs: 16 }), true, archive);
  }

  events(key: string, offset = 0, limit?: number): PersistedEvent[] {
    checkKey(key);
    const archived = this.archivedEvents(key);
    const events = archived.filter((event) => event.sequenceNumber > offset).slice(0, limit);
    if (limit !== undefined && events.length >= limit) return events;
    // Events journaled after the key was archived follow those in the archive.
    const after = Math.max(offset, archived.at(-1)?.sequenceNumber ?? 0);
    const range = this.eventsDb.getRange({
      start: [key, after + 1],
      end: [key, LAST],
      ...(limit === undefined ? {} : { limit: limit - events.length }),
    });
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
    for (const k of this.eventsDb.getKeys({ start: [key, LAST], end: [key, 0], reverse: true, limit: 1 })) {
      return k[1];
    }
    return this.archivedEvents(key).at(-1)?.sequenceNumber ?? 0;
  }

  /** The keys that have events in lmdb (not archived), each once, in order. */
  *liveKeys(): Generator<string> {
    let last: string | undefined;
    for (const [key] of this.eventsDb.getKeys()) {
      if (key !== last) yield key;
      last = key;
    }
  }

  /**
   * Moves the events of `keys` (journals that will not change any more) from lmdb to the archive,
   * a record per group: appended there and synced first, then, in one transaction, the records'
   * locations recorded and the events removed from lmdb. A crash in between leaves them in lmdb,
   * to be archived again. An event journaled under a key after it was archived stays in lmdb and
   * is read after the archived ones; archiving the key again moves it too. Resolves with how many
   * groups moved.
   */
  archive(keys: Iterable<string>): Promise<number> {
    const moving = this.moveToArchive(keys);
    this.archiving.add(moving);
    const done = () => this.archiving.delete(moving);
    moving.then(done, done);
    return moving;
  }

  /** Removes every event and the snapshot of `key` (a journal whose state lives elsewhere now); resolves once that is on disk. */
  async forget(key: string): Promise<void> {
    checkKey(key);
    this.checkOpen();
    const removals = [this.snapshotsDb.remove(key)];
    for (const k of this.eventsDb.getKeys({ start: [key, 0], end: [key, LAST] })) removals.push(this.eventsDb.remove(k));
    await Promise.all(removals);
    if (this.archivedJournal(key)) await this.moveToArchive([key], key);
    await this.root.flushed;
  }

  /** Refuses new writes, waits for the accepted ones, then closes the environment if this journal opened it. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.archiving]);
    await this.root.flushed;
    await this.archiveStore?.close();
    if (this.ownsRoot) await this.root.close();
  }

  /** Archives `keys` (see `archive`); the key `dropped`, if given, is left out of its group's new record. */
  private async moveToArchive(keys: Iterable<string>, dropped?: string): Promise<number> {
    const archive = this.archiveStore;
    if (!archive) throw new Error('this journal has no archive');
    this.checkOpen();
    const groups = new Map<string, Map<string, ArchivedJournal>>();
    const moved: Array<[string, number]> = [];
    for (const key of keys) {
      checkKey(key);
      const live = key === dropped ? [] : [...this.eventsDb.getRange({ start: [key, 0], end: [key, LAST] })];
      if (live.length === 0 && key !== dropped) continue;
      const group = this.groupOf(key);
      let journals = groups.get(group);
      if (!journals) {
        // The group's record so far: the new one replaces it, so it carries what it held.
        journals = new Map((this.archivedRecord(group)?.journals ?? []).map((journal) => [journal.key, journal]));
        groups.set(group, journals);
      }
      if (key === dropped) {
        journals.delete(key);
        continue;
      }
      const later = live.map(({ key: [, sequenceNumber], value }) => ({ sequenceNumber, data: value.data, tags: value.tags, createdAt: value.createdAt }));
      journals.set(key, { key, events: [...(journals.get(key)?.events ?? []), ...later] });
      moved.push(...live.map(({ key: eventKey }) => eventKey));
    }
    if (groups.size === 0) return 0;
    const records: ArchiveRecord[] = [...groups].map(([group, journals]) => ({ group, journals: [...journals.values()] }));
    const locations = await archive.append(records);
    await this.root.transaction(() => {
      records.forEach((record, i) => {
        if (record.journals.length > 0) this.archivedDb.putSync(record.group, locations[i]!);
        else this.archivedDb.removeSync(record.group);
      });
      for (const eventKey of moved) this.eventsDb.removeSync(eventKey);
    });
    await this.root.flushed;
    return records.length;
  }

  /** The archived record of `group`, if it has one. */
  private archivedRecord(group: string): ArchiveRecord | undefined {
    const location = this.archivedDb.get(group);
    if (!location) return undefined;
    if (!this.archiveStore) throw new Error(`the journal of ${group} is in an archive, and this journal was opened without it`);
    return this.archiveStore.read(group, location);
  }

  /** The archived journal of `key`, if it has one. */
  private archivedJournal(key: string): ArchivedJournal | undefined {
    return this.archivedRecord(this.groupOf(key))?.journals.find((journal) => journal.key === key);
  }

  /** The events of `key` in the archive, none if it has not been archived. */
  private archivedEvents(key: string): PersistedEvent[] {
    return (this.archivedJournal(key)?.events ?? []).map((event) => ({ ...event, key, isDeleted: false }));
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
