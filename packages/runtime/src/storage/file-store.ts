import { mkdir, open, rename, rm, stat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes, storedRef, type StoredRef } from '@lzy/node-agent/protocol';

const HASH = /^[0-9a-f]{64}$/;

/**
 * The embedded storage backend: content-addressed blobs under `<dir>/<tenant>/<hash>`. A blob is
 * written to a temporary file and renamed into place only after its hash checks, so a reader never
 * sees a partial blob and a crash leaves no half-written one behind.
 */
export class FileStore {
  constructor(private readonly dir: string) {}

  private path(tenant: string, hash: string): string {
    if (!HASH.test(hash)) throw new Error(`not a sha256 hash: ${hash}`);
    return join(this.dir, encodeURIComponent(tenant), hash.slice(0, 2), hash);
  }

  /** The hash a `blob:` URI names; throws for any other URI. */
  static hashOf(uri: string): string {
    const hash = uri.startsWith('blob:') ? uri.slice(5) : '';
    if (!HASH.test(hash)) throw new Error(`not a blob URI: ${uri}`);
    return hash;
  }

  /** Stores whole bytes (their hash is computed here) and returns the blob's ref. */
  async put(tenant: string, bytes: Buffer): Promise<StoredRef> {
    const hash = hashBytes(bytes);
    const path = this.path(tenant, hash);
    if (!(await exists(path))) {
      await mkdir(join(path, '..'), { recursive: true });
      const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(temp, bytes);
      await rename(temp, path);
    }
    return storedRef(hash, bytes.length);
  }

  async get(tenant: string, uri: string): Promise<Buffer> {
    return readFile(this.path(tenant, FileStore.hashOf(uri)));
  }

  /** Reads up to `length` bytes from `offset`; fewer at the end of the blob. */
  async read(tenant: string, uri: string, offset: number, length: number): Promise<Buffer> {
    const file = await open(this.path(tenant, FileStore.hashOf(uri)), 'r');
    try {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  /** Writes one chunk of an upload; the last chunk checks the hash and publishes the blob. */
  async writeChunk(tenant: string, upload: { uploadId: string; hash: string; offset: number; bytes: Uint8Array; last: boolean }): Promise<void> {
    const path = this.path(tenant, upload.hash);
    const temp = `${path}.${encodeURIComponent(upload.uploadId)}.upload`;
    await mkdir(join(path, '..'), { recursive: true });
    const file = await open(temp, upload.offset === 0 ? 'w' : 'r+');
    try {
      await file.write(upload.bytes, 0, upload.bytes.length, upload.offset);
    } finally {
      await file.close();
    }
    if (!upload.last) return;
    const actual = hashBytes(await readFile(temp));
    if (actual !== upload.hash) {
      await rm(temp, { force: true });
      throw new Error(`upload ${upload.uploadId}: content hash ${actual} does not match the declared ${upload.hash}`);
    }
    await rename(temp, path);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
