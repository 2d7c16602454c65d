import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes, storedRef, type StoredRef } from '@lzy/node-agent/protocol';
import type { BlobLocations } from './blob-locations.js';
import { checkedHash, hashOfUri } from './blob-uri.js';
import { noSuchBlob, type BlobStore, type UploadChunk } from './blob-store.js';
import { writeStagedChunk } from './file-store.js';
import type { S3Bucket, S3Location } from './s3-bucket.js';

/** The runtime's own bucket (`lzy server --storage s3`, or `Lzy.start({ storage: { s3 } })`). */
export interface S3StorageConfig extends S3Location {
  /** Keys start with `PREFIX/` (no prefix by default). */
  prefix?: string;
}

/** Where the values of one run go: a bucket, the prefix of their keys, and the key of each blob there. */
export interface RunPlace {
  readonly bucket: S3Bucket;
  readonly prefix: string;
  keyOf(hash: string): string;
}

/** `prefix/part/part…`, without empty parts or stray slashes. */
export function joinKey(prefix: string | undefined, ...parts: string[]): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  return (trimmed === '' ? parts : [trimmed, ...parts]).join('/');
}

/**
 * Blobs in S3 buckets, each run's values in its place (`placeOf`: the runtime's bucket under
 * `PREFIX/TENANT/WORKFLOW_ID/`, or the run's own bucket). Which run's copy a tenant's blob is read
 * from is in `locations`, written only once the object is whole. Nodes get presigned URLs for
 * exactly the objects they may touch, never credentials; a presigned PUT signs its length.
 * Clients' chunked uploads are staged on disk and put whole once their hash checks, so memory
 * holds one chunk.
 */
export class S3Store implements BlobStore {
  constructor(
    private readonly placeOf: (tenant: string, workflowId: string) => RunPlace,
    private readonly locations: BlobLocations,
    private readonly stagingDir: string,
    private readonly release: () => void = () => {},
  ) {}

  /** The runtime's own bucket: each run's values under `PREFIX/TENANT/WORKFLOW_ID/`. */
  static inRuntimeBucket(bucket: S3Bucket, prefix: string | undefined, locations: BlobLocations, stagingDir: string): S3Store {
    const placeOf = (tenant: string, workflowId: string): RunPlace => {
      const runPrefix = joinKey(prefix, encodeURIComponent(tenant), encodeURIComponent(workflowId));
      return { bucket, prefix: `${runPrefix}/`, keyOf: (hash) => `${runPrefix}/${hash}` };
    };
    return new S3Store(placeOf, locations, stagingDir, () => bucket.close());
  }

  private located(tenant: string, uri: string): { bucket: S3Bucket; key: string; size: number } {
    const hash = hashOfUri(uri);
    const location = this.locations.get(tenant, hash);
    if (!location) throw noSuchBlob(uri);
    const { bucket, keyOf } = this.placeOf(tenant, location.workflowId);
    return { bucket, key: keyOf(hash), size: location.size };
  }

  async put(tenant: string, workflowId: string, bytes: Buffer): Promise<StoredRef> {
    const hash = hashBytes(bytes);
    if (this.locations.get(tenant, hash)?.workflowId !== workflowId) {
      const { bucket, keyOf } = this.placeOf(tenant, workflowId);
      await bucket.putBytes(keyOf(hash), bytes);
      await this.locations.set(tenant, hash, { workflowId, size: bytes.length });
    }
    return storedRef(hash, bytes.length);
  }

  async get(tenant: string, uri: string): Promise<Buffer> {
    const { size } = this.located(tenant, uri);
    return size === 0 ? Buffer.alloc(0) : this.read(tenant, uri, 0, size);
  }

  async read(tenant: string, uri: string, offset: number, length: number): Promise<Buffer> {
    const { bucket, key, size } = this.located(tenant, uri);
    const end = Math.min(offset + length, size);
    if (end <= offset) return Buffer.alloc(0);
    const bytes = await bucket.getRange(key, offset, end - offset);
    if (!bytes) throw noSuchBlob(uri);
    return bytes;
  }

  async writeChunk(tenant: string, workflowId: string, upload: UploadChunk): Promise<void> {
    const hash = checkedHash(upload.hash);
    await mkdir(this.stagingDir, { recursive: true });
    const staged = join(this.stagingDir, `${encodeURIComponent(tenant)}.${encodeURIComponent(upload.uploadId)}.upload`);
    const size = await writeStagedChunk(staged, upload);
    if (size === undefined) return;
    try {
      const { bucket, keyOf } = this.placeOf(tenant, workflowId);
      await bucket.putFile(keyOf(hash), staged, size);
      await this.locations.set(tenant, hash, { workflowId, size });
    } finally {
      await rm(staged, { force: true });
    }
  }

  async presignRead(tenant: string, uri: string): Promise<string> {
    const { bucket, key } = this.located(tenant, uri);
    return bucket.presignGet(key);
  }

  async presignWrite(tenant: string, workflowId: string, hash: string, size: number): Promise<string> {
    const { bucket, keyOf } = this.placeOf(tenant, workflowId);
    return bucket.presignPut(keyOf(checkedHash(hash)), size);
  }

  async commit(tenant: string, workflowId: string, hash: string, size: number): Promise<void> {
    const { bucket, keyOf } = this.placeOf(tenant, workflowId);
    const key = keyOf(checkedHash(hash));
    const stored = await bucket.sizeOf(key);
    if (stored === undefined) throw new Error(`blob ${hash} was not uploaded`);
    if (stored !== size) {
      await bucket.delete(key);
      throw new Error(`blob ${hash} was uploaded with ${stored} bytes, not the ${size} declared`);
    }
    await this.locations.set(tenant, hash, { workflowId, size });
  }

  has(tenant: string, uri: string): boolean {
    return this.locations.get(tenant, hashOfUri(uri)) !== undefined;
  }

  async expire(tenant: string, workflowId: string): Promise<void> {
    const { bucket, prefix } = this.placeOf(tenant, workflowId);
    for (const key of await bucket.deleteAll(prefix)) await this.locations.remove(tenant, key.slice(prefix.length), workflowId);
  }

  async close(): Promise<void> {
    this.release();
  }
}
