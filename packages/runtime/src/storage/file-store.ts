import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { hashBytes, storedRef, type StoredRef } from '@lzy/node-agent/protocol';
import { checkedHash, hashOfUri } from './blob-uri.js';
import { noSuchBlob, type BlobStore, type UploadChunk } from './blob-store.js';
import { NEW_BLOB, type SignedBlobUrls } from './signed-blob-urls.js';

/** How many stored files a file store remembers as there. */
const KNOWN_PRESENT = 4096;

/**
 * The embedded storage backend: content-addressed blobs under `<dir>/<tenant>/<hash>`, whatever
 * run wrote them. A blob is written to a temporary file and renamed into place only after its hash
 * checks, so a reader never sees a partial blob and a crash leaves no half-written one behind.
 * Nodes read and write it through signed URLs on the runtime's HTTP server (`urls`), clients in
 * chunks through the runtime.
 */
export class FileStore implements BlobStore {
  /** Files known to be there (a blob here never goes): a warm submission's bundle is not looked for on disk each time. */
  private readonly present = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly urls: SignedBlobUrls,
  ) {}

  /** The file that holds the tenant's blob `hash` once it is stored. */
  path(tenant: string, hash: string): string {
    return join(this.dir, encodeURIComponent(tenant), hash.slice(0, 2), hash);
  }

  async put(tenant: string, _workflowId: string, bytes: Buffer): Promise<StoredRef> {
    const hash = hashBytes(bytes);
    const path = this.path(tenant, hash);
    if (!(await exists(path))) {
      await mkdir(join(path, '..'), { recursive: true });
      const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(temp, bytes);
      await rename(temp, path);
    }
    this.seen(path);
    return storedRef(hash, bytes.length);
  }

  async get(tenant: string, uri: string): Promise<Buffer> {
    return readFile(this.path(tenant, hashOfUri(uri)));
  }

  async read(tenant: string, uri: string, offset: number, length: number): Promise<Buffer> {
    const file = await open(this.path(tenant, hashOfUri(uri)), 'r');
    try {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  async writeChunk(tenant: string, _workflowId: string, upload: UploadChunk): Promise<void> {
    const path = this.path(tenant, checkedHash(upload.hash));
    const temp = `${path}.${encodeURIComponent(upload.uploadId)}.upload`;
    await mkdir(join(path, '..'), { recursive: true });
    if ((await writeStagedChunk(temp, upload)) !== undefined) await rename(temp, path);
  }

  /** A signed path to GET the blob at `uri` from; rejects with `ENOENT` when the tenant has none there. */
  async presignRead(tenant: string, uri: string): Promise<string> {
    const hash = hashOfUri(uri);
    if (!(await exists(this.path(tenant, hash)))) throw noSuchBlob(uri);
    return this.urls.sign({ method: 'GET', tenant, hash });
  }

  /**
   * A signed path to PUT exactly `size` bytes of blob `hash` to, or of a blob named by its hash as
   * it arrives when `hash` is undefined (see `file-store-http.ts`).
   */
  async presignWrite(tenant: string, _workflowId: string, hash: string | undefined, size: number): Promise<string> {
    return this.urls.sign({ method: 'PUT', tenant, hash: hash === undefined ? NEW_BLOB : checkedHash(hash), size });
  }

  /** A new temporary file in the tenant's folder, for an upload not named yet. */
  stagingPath(tenant: string): string {
    return join(this.dir, encodeURIComponent(tenant), `${NEW_BLOB}.${randomUUID()}.upload`);
  }

  /** The blob PUT through a signed path is there, of the declared size (its hash was checked as it arrived). */
  async commit(tenant: string, _workflowId: string, hash: string, size: number): Promise<void> {
    const stored = await stat(this.path(tenant, checkedHash(hash))).catch(() => undefined);
    if (stored === undefined) throw new Error(`blob ${hash} was not uploaded: nothing to commit`);
    if (stored.size !== size) throw new Error(`blob ${hash} has ${stored.size} bytes, not the ${size} declared`);
  }

  has(tenant: string, uri: string): boolean {
    const path = this.path(tenant, hashOfUri(uri));
    if (this.present.has(path)) return true;
    if (!existsSync(path)) return false;
    this.seen(path);
    return true;
  }

  /** Remembers that `path` is there; past KNOWN_PRESENT files, the oldest is forgotten (and looked for on disk again when asked). */
  private seen(path: string): void {
    if (this.present.has(path)) return;
    if (this.present.size >= KNOWN_PRESENT) this.present.delete(this.present.values().next().value!);
    this.present.add(path);
  }

  /** A file store's blobs never expire: nothing to hold. */
  async hold(): Promise<void> {}

  /** Nothing goes: a blob here is shared by every run of its tenant that stored the same content, and stays while the data dir does. */
  async expire(): Promise<void> {}

  async createMultipart(): Promise<undefined> {
    return undefined;
  }

  async presignPart(tenant: string): Promise<string> {
    throw new Error(`the file store takes blobs in chunks: ${tenant} has no multipart upload`);
  }

  async completeMultipart(tenant: string): Promise<void> {
    throw new Error(`the file store takes blobs in chunks: ${tenant} has no multipart upload`);
  }

  async abortMultipart(tenant: string): Promise<void> {
    throw new Error(`the file store takes blobs in chunks: ${tenant} has no multipart upload`);
  }

  /** Chunked uploads have no state but their temporary file, which no reader ever sees. */
  async abortUploads(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * Writes one chunk of an upload into the staged file `staged`. After the last chunk it checks the
 * whole file against the declared hash and resolves with its size; a file that does not match is
 * removed, and the upload rejected. Before the last chunk it resolves `undefined`.
 */
export async function writeStagedChunk(staged: string, upload: UploadChunk): Promise<number | undefined> {
  const file = await open(staged, upload.offset === 0 ? 'w' : 'r+');
  let size: number;
  try {
    await file.write(upload.bytes, 0, upload.bytes.length, upload.offset);
    size = (await file.stat()).size;
  } finally {
    await file.close();
  }
  if (!upload.last) return undefined;
  const actual = await hashFile(staged);
  if (actual !== upload.hash) {
    await rm(staged, { force: true });
    throw new Error(`upload ${upload.uploadId}: content hash ${actual} does not match the declared ${upload.hash}`);
  }
  return size;
}

/** The sha256 of a file's content (hex), read as a stream. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
