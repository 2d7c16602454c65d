import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes, storedRef, type MultipartUpload, type StoredRef } from '@lzy/node-agent/protocol';
import type { BlobLocations } from './blob-locations.js';
import type { OpenUpload, OpenUploads } from './open-uploads.js';
import { checkedHash, hashOfUri } from './blob-uri.js';
import { noSuchBlob, type BlobStore, type UploadChunk } from './blob-store.js';
import { writeStagedChunk } from './file-store.js';
import type { S3Bucket, S3Location } from './s3-bucket.js';

/** The runtime's own bucket (`lzy server --storage s3`, or `Lzy.start({ storage: { s3 } })`). */
export interface S3StorageConfig extends S3Location {
  /** Keys start with `PREFIX/` (no prefix by default). */
  prefix?: string;
}

/** The smallest part of a multipart upload; a part count of at most MAX_PARTS makes it larger for larger files. */
const MIN_PART_BYTES = 64 * 1024 * 1024;
const MAX_PARTS = 10_000;

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
    private readonly uploads: OpenUploads,
    private readonly stagingDir: string,
    /**
     * Whose copies these are: temporary ones live as long as the runs that hold them; those in a
     * run's own bucket as long as their owner keeps them, and a temporary copy that one of them
     * replaces, which no run holds any more, is deleted with `dropTemporary`.
     */
    private readonly copies: { kind: 'temporary' } | { kind: 'own'; dropTemporary: (tenant: string, workflowId: string, hash: string) => Promise<void> },
    private readonly release: () => void = () => {},
  ) {}

  /** The runtime's own bucket: each run's values under `PREFIX/TENANT/WORKFLOW_ID/`. */
  static inRuntimeBucket(bucket: S3Bucket, prefix: string | undefined, locations: BlobLocations, uploads: OpenUploads, stagingDir: string): S3Store {
    const placeOf = (tenant: string, workflowId: string): RunPlace => {
      const runPrefix = joinKey(prefix, encodeURIComponent(tenant), encodeURIComponent(workflowId));
      return { bucket, prefix: `${runPrefix}/`, keyOf: (hash) => `${runPrefix}/${hash}` };
    };
    return new S3Store(placeOf, locations, uploads, stagingDir, { kind: 'temporary' }, () => bucket.close());
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
      await this.place(tenant, hash, workflowId, bytes.length);
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
      await this.place(tenant, hash, workflowId, size);
    } finally {
      await rm(staged, { force: true });
    }
  }

  async presignRead(tenant: string, uri: string): Promise<string> {
    const { bucket, key } = this.located(tenant, uri);
    return bucket.presignGet(key);
  }

  /** Objects are named by their hash: a writer that does not name one gets no URL. */
  async presignWrite(tenant: string, workflowId: string, hash: string | undefined, size: number): Promise<string | undefined> {
    if (hash === undefined) return undefined;
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
    await this.place(tenant, hash, workflowId, size);
  }

  /** The blob is whole in run `workflowId`'s storage: reads go there now; a copy it replaces that no run holds goes. */
  private async place(tenant: string, hash: string, workflowId: string, size: number): Promise<void> {
    const orphan = await this.locations.placed(tenant, hash, workflowId, size, this.copies.kind === 'temporary');
    if (!orphan) return;
    if (this.copies.kind === 'temporary') await this.deleteCopy(tenant, orphan.workflowId, hash);
    else await this.copies.dropTemporary(tenant, orphan.workflowId, hash);
  }

  /** Deletes the copy of blob `hash` in run `workflowId`'s storage. */
  async deleteCopy(tenant: string, workflowId: string, hash: string): Promise<void> {
    const { bucket, keyOf } = this.placeOf(tenant, workflowId);
    await bucket.delete(keyOf(hash));
  }

  async createMultipart(tenant: string, workflowId: string, attemptId: string, hash: string, size: number): Promise<MultipartUpload> {
    const partSize = Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PARTS / 1024 ** 2) * 1024 ** 2);
    const { bucket, keyOf } = this.placeOf(tenant, workflowId);
    const uploadId = await bucket.createMultipart(keyOf(checkedHash(hash)));
    await this.uploads.add(uploadId, { tenant, workflowId, attemptId, hash, size, partSize });
    return { uploadId, partSize };
  }

  /** The open upload `uploadId` of the tenant's attempt; throws when it has none by that id. */
  private openUpload(tenant: string, attemptId: string, uploadId: string): OpenUpload {
    const upload = this.uploads.get(uploadId);
    if (upload?.tenant !== tenant || upload.attemptId !== attemptId) throw new Error(`attempt ${attemptId} has no open upload ${uploadId}`);
    return upload;
  }

  async presignPart(tenant: string, attemptId: string, uploadId: string, partNumber: number): Promise<string> {
    const { workflowId, hash, size, partSize } = this.openUpload(tenant, attemptId, uploadId);
    const length = Math.min(partSize, size - (partNumber - 1) * partSize);
    if (length <= 0) throw new Error(`upload ${uploadId} of ${size} bytes in parts of ${partSize} has no part ${partNumber}`);
    const { bucket, keyOf } = this.placeOf(tenant, workflowId);
    return bucket.presignPart(keyOf(hash), uploadId, partNumber, length);
  }

  async completeMultipart(tenant: string, attemptId: string, uploadId: string, parts: ReadonlyArray<{ partNumber: number; etag: string }>): Promise<void> {
    const { workflowId, hash, size } = this.openUpload(tenant, attemptId, uploadId);
    const { bucket, keyOf } = this.placeOf(tenant, workflowId);
    await bucket.completeMultipart(keyOf(hash), uploadId, parts);
    await this.uploads.remove(uploadId);
    await this.commit(tenant, workflowId, hash, size);
  }

  async abortMultipart(tenant: string, attemptId: string, uploadId: string): Promise<void> {
    this.openUpload(tenant, attemptId, uploadId);
    await this.abort(uploadId);
  }

  async abortUploads(attemptId?: string): Promise<void> {
    for (const [uploadId] of this.uploads.of(attemptId)) await this.abort(uploadId);
  }

  /** Gives up an open upload; it is kept when the server was not reached, to be given up at the next start. */
  private async abort(uploadId: string): Promise<void> {
    const upload = this.uploads.get(uploadId);
    if (!upload) return;
    const { bucket, keyOf } = this.placeOf(upload.tenant, upload.workflowId);
    await bucket.abortMultipart(keyOf(upload.hash), uploadId);
    await this.uploads.remove(uploadId);
  }

  has(tenant: string, uri: string): boolean {
    return this.locations.get(tenant, hashOfUri(uri)) !== undefined;
  }

  async hold(tenant: string, workflowId: string, uris: Iterable<string>): Promise<void> {
    await this.locations.hold(tenant, workflowId, [...uris].map(hashOfUri));
  }

  /**
   * Run `workflowId` lets go of every blob it holds, and its storage is emptied but for the copies
   * other runs still hold (they go with the last of those). Safe to repeat after a failure.
   */
  async expire(tenant: string, workflowId: string): Promise<void> {
    for (const hash of this.locations.heldBy(tenant, workflowId)) {
      const released = await this.locations.release(tenant, workflowId, hash);
      // A copy in another run's storage that no run holds any more: that run's storage expired already.
      if (released && !released.held && released.location.workflowId !== workflowId) await this.deleteCopy(tenant, released.location.workflowId, hash);
    }
    const { bucket, prefix } = this.placeOf(tenant, workflowId);
    const stillHeld = (key: string): boolean => {
      const location = this.locations.get(tenant, key.slice(prefix.length));
      return location?.workflowId === workflowId && (location.holders?.length ?? 0) > 0;
    };
    for (const key of await bucket.deleteAll(prefix, stillHeld)) await this.locations.remove(tenant, key.slice(prefix.length), workflowId);
  }

  async close(): Promise<void> {
    this.release();
  }
}
