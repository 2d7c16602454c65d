import type { StoredRef } from '@lzy/node-agent/protocol';
import type { BlobLocations } from './blob-locations.js';
import { hashOfUri } from './blob-uri.js';
import type { BlobStore, UploadChunk } from './blob-store.js';
import type { RunStorages } from './run-storages.js';
import { S3Store } from './s3-store.js';

/**
 * The storage of every run: a run that names its own bucket has its values there, every other
 * run in the runtime's store (`server`: files under the data dir, or the runtime's bucket). A
 * blob is read from where its location says it was written.
 */
export class RunStore implements BlobStore {
  private readonly own: S3Store;

  constructor(
    private readonly server: BlobStore,
    private readonly runs: RunStorages,
    private readonly locations: BlobLocations,
    stagingDir: string,
  ) {
    this.own = new S3Store((tenant, workflowId) => runs.placeOf(tenant, workflowId), locations, stagingDir);
  }

  /** The store run `workflowId` writes to. */
  private of(tenant: string, workflowId: string): BlobStore {
    return this.runs.has(tenant, workflowId) ? this.own : this.server;
  }

  /** The store the blob at `uri` is read from. */
  private holding(tenant: string, uri: string): BlobStore {
    const location = this.locations.get(tenant, hashOfUri(uri));
    return location !== undefined && this.runs.has(tenant, location.workflowId) ? this.own : this.server;
  }

  put(tenant: string, workflowId: string, bytes: Buffer): Promise<StoredRef> {
    return this.of(tenant, workflowId).put(tenant, workflowId, bytes);
  }

  get(tenant: string, uri: string): Promise<Buffer> {
    return this.holding(tenant, uri).get(tenant, uri);
  }

  read(tenant: string, uri: string, offset: number, length: number): Promise<Buffer> {
    return this.holding(tenant, uri).read(tenant, uri, offset, length);
  }

  writeChunk(tenant: string, workflowId: string, upload: UploadChunk): Promise<void> {
    return this.of(tenant, workflowId).writeChunk(tenant, workflowId, upload);
  }

  presignRead(tenant: string, uri: string): Promise<string | undefined> {
    return this.holding(tenant, uri).presignRead(tenant, uri);
  }

  presignWrite(tenant: string, workflowId: string, hash: string, size: number): Promise<string | undefined> {
    return this.of(tenant, workflowId).presignWrite(tenant, workflowId, hash, size);
  }

  commit(tenant: string, workflowId: string, hash: string, size: number): Promise<void> {
    return this.of(tenant, workflowId).commit(tenant, workflowId, hash, size);
  }

  async close(): Promise<void> {
    this.runs.close();
    await this.server.close();
  }
}
