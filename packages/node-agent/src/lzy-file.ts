import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileRef } from './protocol/data.js';
import { FILE_VALUE } from './protocol/file-value.js';

/** Where the bytes of a stored file come from on a machine that does not have it yet. */
export interface FileSource {
  /** The stored bytes of `ref`, in order, as they arrive (checked by the caller). */
  chunks(ref: FileRef): AsyncIterable<Uint8Array>;
}

/** Where the workflow's side keeps the files it downloads, one per content hash. */
const DOWNLOADS = join(tmpdir(), 'lzy-files');

/**
 * A file as a value: an op returns `LzyFile.fromPath(path)`, and the ops and the workflow that
 * take it get an `LzyFile` whose bytes are streamed from the producing node's disk to storage to
 * their own disk, never held whole in memory. On a node, an op's file argument is on local disk
 * before the op starts; on the workflow's side, `path()` downloads it on first use and `stream()`
 * reads it from storage (or from the download, once there).
 */
export class LzyFile {
  private downloading: Promise<string> | undefined;

  private constructor(
    private local: string | undefined,
    /** Its stored ref, once it is stored. */
    readonly ref: FileRef | undefined,
    private readonly source: FileSource | undefined,
  ) {}

  /** Any file value, this class's or a copy's bundled with an op's module (which the runner's arguments are not instances of). */
  static [Symbol.hasInstance](value: unknown): boolean {
    return localPathOf(value) !== null;
  }

  /** The file at `path` on this machine, as a value an op can return (resolved against the working directory now). */
  static fromPath(path: string): LzyFile {
    return new LzyFile(resolve(path), undefined, undefined);
  }

  /** A stored file that is on this machine at `path` already (an op's argument, fetched by its agent). */
  static stored(ref: FileRef, path: string): LzyFile {
    return new LzyFile(path, ref, undefined);
  }

  /** A stored file read from `source` when it is first used. */
  static remote(ref: FileRef, source: FileSource): LzyFile {
    return new LzyFile(undefined, ref, source);
  }

  /** Its size in bytes, once stored. */
  get size(): number | undefined {
    return this.ref?.size;
  }

  /** The sha256 of its content (hex), once stored. */
  get hash(): string | undefined {
    return this.ref?.hash;
  }

  /** Its path on this machine, downloaded (whole, checked against its hash) first if it is not here yet. */
  async path(): Promise<string> {
    if (this.local !== undefined) return this.local;
    this.downloading ??= download(this.ref!, this.source!).then((path) => (this.local = path));
    return this.downloading;
  }

  /** Its bytes as a stream: from this machine's disk, or else straight from storage (checked against its hash at the end). */
  stream(): Readable {
    if (this.local !== undefined) return createReadStream(this.local);
    return Readable.from(checkedChunks(this.ref!, this.source!), { objectMode: false });
  }

  /** Its path on this machine, or undefined while it is not here (see FILE_VALUE). */
  [FILE_VALUE](): string | undefined {
    return this.local;
  }

  toString(): string {
    return this.local !== undefined ? `LzyFile(${this.local})` : `LzyFile(${this.ref!.uri})`;
  }
}

/** The stored bytes of `ref`; throws at the end when their size or sha256 is not the ref's. */
async function* checkedChunks(ref: FileRef, source: FileSource): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source.chunks(ref)) {
    hash.update(chunk);
    size += chunk.length;
    if (size > ref.size) throw new Error(`file ${ref.uri} has more than the ${ref.size} bytes its ref says`);
    yield chunk;
  }
  const actual = hash.digest('hex');
  if (size !== ref.size || actual !== ref.hash) throw new Error(`file ${ref.uri} arrived with ${size} bytes and sha256 ${actual}; its ref says ${ref.size} bytes, ${ref.hash}`);
}

/** Downloads `ref` into DOWNLOADS (once per content: a file there is whole and checked). */
async function download(ref: FileRef, source: FileSource): Promise<string> {
  const path = join(DOWNLOADS, ref.hash);
  if ((await stat(path).catch(() => undefined))?.size === ref.size) return path;
  await mkdir(DOWNLOADS, { recursive: true });
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await pipeline(Readable.from(checkedChunks(ref, source)), createWriteStream(temp));
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return path;
}

/** The path on this machine of `value` when it is a file value (undefined: one that is not here); null when it is no file value. */
export function localPathOf(value: unknown): string | undefined | null {
  const mark = typeof value === 'object' && value !== null ? (value as { [FILE_VALUE]?: unknown })[FILE_VALUE] : undefined;
  return typeof mark === 'function' ? (mark.call(value) as string | undefined) : null;
}
