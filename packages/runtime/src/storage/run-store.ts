import { hashBytes, type MultipartUpload, type StoredRef } from '@lzy/node-agent/protocol';
import type { OpenUpload, OpenUploads } from './open-uploads.js';
import type { BlobLocations } from './blob-locations.js';
import { hashOfUri } from './blob-uri.js';
import type { BlobStore, UploadChunk } from './blob-store.js';
import type { RunStorages } from './run-storages.js';
import { RuntimeError } from '../protocol/errors.js';
import { S3Store } from './s3-store.js';
import type { TempQuota } from './temp-quota.js';

/** A settled promise for the calls that have nothing to wait for. */
const NOTHING = Promise.resolve();

/**
 * The storage of every run: a run that names its own bucket has its values there (their size is
 * its owner's affair), every other run in its temporary storage in the runtime's store (`server`:
 * files under the data dir, or the runtime's bucket), within `quota`. A blob is read from where
 * its location says it was written.
 */
export class RunStore implements BlobStore {
  private readonly own: S3Store;
  /** What is under way: `close` waits for it, so no write reaches the state after it closed. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly server: BlobStore,
    private readonly runs: RunStorages,
    private readonly locations: BlobLocations,
    private readonly quota: TempQuota,
    private readonly uploads: OpenUploads,
    stagingDir: string,
  ) {
    // Only the runtime's bucket keeps copies that runs hold: the file store keeps none.
    const dropTemporary = (tenant: string, workflowId: string, hash: string) => (server instanceof S3Store ? server.deleteCopy(tenant, workflowId, hash) : Promise.resolve());
    this.own = new S3Store((tenant, workflowId) => runs.placeOf(tenant, workflowId), locations, uploads, stagingDir, { kind: 'own', dropTemporary });
  }

  createMultipart(tenant: string, workflowId: string, attemptId: string, hash: string, size: number): Promise<MultipartUpload | undefined> {
    if (this.runs.has(tenant, workflowId)) return this.own.createMultipart(tenant, workflowId, attemptId, hash, size);
    this.quota.check(tenant, workflowId, hash, size);
    return this.server.createMultipart(tenant, workflowId, attemptId, hash, size);
  }

  /** The store that holds open upload `uploadId`. */
  private uploading(uploadId: string): BlobStore {
    const upload = this.uploads.get(uploadId);
    return upload !== undefined && this.runs.has(upload.tenant, upload.workflowId) ? this.own : this.server;
  }

  presignPart(tenant: string, attemptId: string, uploadId: string, partNumber: number): Promise<string> {
    return this.uploading(uploadId).presignPart(tenant, attemptId, uploadId, partNumber);
  }

  completeMultipart(tenant: string, attemptId: string, uploadId: string, parts: ReadonlyArray<{ partNumber: number; etag: string }>): Promise<void> {
    return this.tracked(async () => {
      const upload = this.uploads.get(uploadId);
      const store = this.uploading(uploadId);
      if (upload && store === this.server) this.quota.check(tenant, upload.workflowId, upload.hash, upload.size);
      await store.completeMultipart(tenant, attemptId, uploadId, parts);
      if (upload && store === this.server) await this.quota.add(tenant, upload.workflowId, upload.hash, upload.size);
    });
  }

  abortMultipart(tenant: string, attemptId: string, uploadId: string): Promise<void> {
    return this.uploading(uploadId).abortMultipart(tenant, attemptId, uploadId);
  }

  abortUploads(attemptId?: string): Promise<void> {
    // The end of every attempt asks; almost none left an upload open (the stores keep theirs in `uploads` too).
    const open = this.uploads.of(attemptId);
    return attemptId !== undefined && open.length === 0 ? NOTHING : this.abortOpen(open, attemptId);
  }

  private async abortOpen(open: Array<[string, OpenUpload]>, attemptId: string | undefined): Promise<void> {
    for (const [uploadId, upload] of open) await this.uploading(uploadId).abortMultipart(upload.tenant, upload.attemptId, uploadId);
    // The file store's chunked uploads have no state beside their temporary files.
    await this.server.abortUploads(attemptId);
  }

  /** The store the blob at `uri` is read from. */
  private holding(tenant: string, uri: string): BlobStore {
    const location = this.locations.get(tenant, hashOfUri(uri));
    return location !== undefined && this.runs.has(tenant, location.workflowId) ? this.own : this.server;
  }

  put(tenant: string, workflowId: string, bytes: Buffer): Promise<StoredRef> {
    return this.tracked(() => this.putNow(tenant, workflowId, bytes));
  }

  private async putNow(tenant: string, workflowId: string, bytes: Buffer): Promise<StoredRef> {
    if (this.runs.has(tenant, workflowId)) return this.own.put(tenant, workflowId, bytes);
    const hash = hashBytes(bytes);
    this.quota.check(tenant, workflowId, hash, bytes.length);
    const ref = await this.server.put(tenant, workflowId, bytes);
    await this.quota.add(tenant, workflowId, hash, bytes.length);
    return ref;
  }

  get(tenant: string, uri: string): Promise<Buffer> {
    return this.holding(tenant, uri).get(tenant, uri);
  }

  read(tenant: string, uri: string, offset: number, length: number): Promise<Buffer> {
    return this.holding(tenant, uri).read(tenant, uri, offset, length);
  }

  writeChunk(tenant: string, workflowId: string, upload: UploadChunk): Promise<void> {
    return this.tracked(() => this.writeChunkNow(tenant, workflowId, upload));
  }

  private async writeChunkNow(tenant: string, workflowId: string, upload: UploadChunk): Promise<void> {
    if (this.runs.has(tenant, workflowId)) return this.own.writeChunk(tenant, workflowId, upload);
    const size = upload.offset + upload.bytes.length;
    this.quota.check(tenant, workflowId, upload.hash, size);
    await this.server.writeChunk(tenant, workflowId, upload);
    if (upload.last) await this.quota.add(tenant, workflowId, upload.hash, size);
  }

  presignRead(tenant: string, uri: string): Promise<string | undefined> {
    return this.holding(tenant, uri).presignRead(tenant, uri);
  }

  presignWrite(tenant: string, workflowId: string, hash: string | undefined, size: number): Promise<string | undefined> {
    if (this.runs.has(tenant, workflowId)) return this.own.presignWrite(tenant, workflowId, hash, size);
    this.quota.check(tenant, workflowId, hash, size);
    return this.server.presignWrite(tenant, workflowId, hash, size);
  }

  commit(tenant: string, workflowId: string, hash: string, size: number): Promise<void> {
    return this.tracked(() => this.commitNow(tenant, workflowId, hash, size));
  }

  private async commitNow(tenant: string, workflowId: string, hash: string, size: number): Promise<void> {
    if (this.runs.has(tenant, workflowId)) return this.own.commit(tenant, workflowId, hash, size);
    // Checked again: other writes of the run may have been stored since this one was allowed.
    this.quota.check(tenant, workflowId, hash, size);
    await this.server.commit(tenant, workflowId, hash, size);
    await this.quota.add(tenant, workflowId, hash, size);
  }

  has(tenant: string, uri: string): boolean {
    return this.holding(tenant, uri).has(tenant, uri);
  }

  /** Runs keep what they use of the temporary storage (a copy in a run's own bucket is its owner's affair). */
  hold(tenant: string, workflowId: string, uris: Iterable<string>): Promise<void> {
    return this.tracked(() => this.server.hold(tenant, workflowId, uris));
  }

  /**
   * Empties the temporary storage of run `workflowId` but for what other runs still hold, and lets
   * go of what it held; a run's own bucket is its owner's affair.
   */
  expire(tenant: string, workflowId: string): Promise<void> {
    return this.tracked(async () => {
      await this.server.expire(tenant, workflowId);
      if (!this.runs.has(tenant, workflowId)) await this.quota.forget(tenant, workflowId);
    });
  }

  /** Runs `work` unless the store is closing, and keeps it in `inFlight` until it settles. */
  private tracked<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new RuntimeError('SHUTTING_DOWN', 'the runtime is shutting down; try again once it is back'));
    const promise = work();
    this.inFlight.add(promise);
    const done = () => void this.inFlight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    this.runs.close();
    await this.server.close();
  }
}
