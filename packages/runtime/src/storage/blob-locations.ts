import type { Database, RootDatabase } from 'lmdb';

/** Where one blob of a tenant is stored: the run it was written for, and its size. */
export interface BlobLocation {
  readonly workflowId: string;
  readonly size: number;
}

/**
 * Which run's copy of each tenant's blob is read, for stores that keep a run's values apart (S3):
 * in the runtime's lmdb state, written only once the blob is whole where it is.
 */
export class BlobLocations {
  private readonly db: Database<BlobLocation, [string, string]>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<BlobLocation, [string, string]>({ name: 'blob-locations' });
  }

  get(tenant: string, hash: string): BlobLocation | undefined {
    return this.db.get([tenant, hash]);
  }

  async set(tenant: string, hash: string, location: BlobLocation): Promise<void> {
    await this.db.put([tenant, hash], location);
  }

  /** Forgets the location of the blob, if it is in run `workflowId`'s storage. */
  async remove(tenant: string, hash: string, workflowId: string): Promise<void> {
    if (this.get(tenant, hash)?.workflowId === workflowId) await this.db.remove([tenant, hash]);
  }
}
