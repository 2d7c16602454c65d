import { closeSync, constants, mkdirSync, openSync, readdirSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import type { PersistedEvent } from './engine.js';

/** Where a group's archived journals are: a segment file, and the record's offset and length in it. */
export type ArchiveLocation = readonly [segment: number, offset: number, length: number];

/** A journal as archived: its key and events. */
export interface ArchivedJournal {
  readonly key: string;
  readonly events: ReadonlyArray<Omit<PersistedEvent, 'key' | 'isDeleted'>>;
}

/** One record of the archive: the journals of a group of keys, archived and read back together. */
export interface ArchiveRecord {
  readonly group: string;
  readonly journals: readonly ArchivedJournal[];
}

/** A segment takes appends until it is this large; the next append starts a new one. */
const SEGMENT_BYTES = 64 * 1024 * 1024;
/** Segment files read at once are kept open, up to this many. */
const OPEN_READERS = 8;
const SEGMENT_NAME = /^(\d{8})\.seg$/;
/** Segments are written at positions (after the last record), created when missing. */
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT;

/**
 * The journals of keys that will not change any more (runs that ended), moved out of lmdb into
 * append-only segment files: the lmdb environment, which the runtime keeps mapped, then holds only
 * what is live, and its pages are reused instead of growing with every run ever made. A record is
 * read with one positioned read; nothing of the archive is kept in memory.
 *
 * A record's location is given out only once its bytes are on disk, so the caller can record the
 * location and then drop the events elsewhere. Bytes a crash left after the last such record are
 * never referenced, and appends go on after them.
 */
export class JournalArchive {
  private readonly packr = new Packr();
  private readonly readers = new Map<number, number>();
  /** Appends run one at a time, in order. */
  private appending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private segment: number,
    private file: FileHandle,
    private size: number,
  ) {}

  /** Opens (creating if needed) the archive in directory `dir`. */
  static async open(dir: string): Promise<JournalArchive> {
    mkdirSync(dir, { recursive: true });
    const segments = readdirSync(dir)
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    const segment = segments.length > 0 ? Math.max(...segments) : 1;
    const file = await open(segmentPath(dir, segment), WRITE_FLAGS);
    return new JournalArchive(dir, segment, file, (await file.stat()).size);
  }

  /** Appends `records`, resolving with their locations, in order, once all of them are on disk. */
  append(records: readonly ArchiveRecord[]): Promise<ArchiveLocation[]> {
    const appended = this.appending.then(() => this.write(records));
    this.appending = appended.catch(() => undefined);
    return appended;
  }

  /** The record at `location`; throws if what is there is not the record of `group`. */
  read(group: string, [segment, offset, length]: ArchiveLocation): ArchiveRecord {
    const fd = this.readerOf(segment);
    const bytes = Buffer.allocUnsafe(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, bytes, read, length - read, offset + read);
      if (n === 0) break;
      read += n;
    }
    const record = read === length ? (this.packr.unpack(bytes) as ArchiveRecord) : undefined;
    if (!record || record.group !== group || !Array.isArray(record.journals)) {
      throw new Error(`the journal archive has no record of ${group} at segment ${segment} offset ${offset}`);
    }
    return record;
  }

  /** Closes the segment files; appends already made are on disk. */
  async close(): Promise<void> {
    await this.appending;
    await this.file.close();
    for (const fd of this.readers.values()) closeSync(fd);
    this.readers.clear();
  }

  private async write(records: readonly ArchiveRecord[]): Promise<ArchiveLocation[]> {
    if (this.size >= SEGMENT_BYTES) await this.nextSegment();
    const packed = records.map((record) => this.packr.pack(record));
    const locations: ArchiveLocation[] = [];
    let offset = this.size;
    for (const bytes of packed) {
      locations.push([this.segment, offset, bytes.length]);
      offset += bytes.length;
    }
    const all = Buffer.concat(packed);
    let written = 0;
    while (written < all.length) written += (await this.file.write(all, written, all.length - written, this.size + written)).bytesWritten;
    await this.file.datasync();
    this.size = offset;
    return locations;
  }

  private async nextSegment(): Promise<void> {
    await this.file.close();
    this.segment += 1;
    this.file = await open(segmentPath(this.dir, this.segment), WRITE_FLAGS);
    this.size = (await this.file.stat()).size;
  }

  private readerOf(segment: number): number {
    const open = this.readers.get(segment);
    if (open !== undefined) return open;
    if (this.readers.size >= OPEN_READERS) {
      const [oldest, fd] = this.readers.entries().next().value as [number, number];
      closeSync(fd);
      this.readers.delete(oldest);
    }
    const fd = openSync(segmentPath(this.dir, segment), 'r');
    this.readers.set(segment, fd);
    return fd;
  }
}

function segmentPath(dir: string, segment: number): string {
  return join(dir, `${String(segment).padStart(8, '0')}.seg`);
}
