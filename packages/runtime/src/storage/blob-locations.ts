import type { Database, RootDatabase } from 'lmdb';

/**
 * Where one blob of a tenant is stored: the run whose storage holds the copy that is read, its
 * size, and the runs that use that copy (`holders`: the run that wrote it, and every later run
 * that refers to it, until each one's storage expires). A copy without holders (in a run's own
 * bucket, or recorded before runs held blobs) is its run's alone.
 */
export interface BlobLocation {
  readonly workflowId: string;
  readonly size: number;
  readonly holders?: readonly string[];
}

/** What letting go of a blob left: its location, and whether any run still holds it. */
export interface Released {
  readonly location: BlobLocation;
  readonly held: boolean;
}

/**
 * Which run's copy of each tenant's blob is read, for stores that keep a run's values apart (S3),
 * and which runs hold each copy: in the runtime's lmdb state, written only once the blob is whole
 * where it is. Runs that share a blob (a bundle shipped once per connection, a cached result, a
 * value passed on) keep it alive together: it goes with the last of them. Beside each location,
 * `blob-holds` lists the blobs each run holds, so that its expiry finds them.
 *
 * Changes read what they change in their own write transaction: two runs that take the same blob
 * in the same moment both end up holding it.
 */
export class BlobLocations {
  private readonly db: Database<BlobLocation, [string, string]>;
  private readonly holds: Database<true, [string, string, string]>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<BlobLocation, [string, string]>({ name: 'blob-locations' });
    this.holds = root.openDB<true, [string, string, string]>({ name: 'blob-holds' });
  }

  get(tenant: string, hash: string): BlobLocation | undefined {
    return this.db.get([tenant, hash]);
  }

  /**
   * A whole copy of the blob is now in run `workflowId`'s storage, which it keeps alive: it is the
   * one read from now on, held by the runs that held the copy before too. Resolves with the copy
   * it replaces when no run holds that one any more, for the caller to delete. A copy that is not
   * `held` is in a run's own bucket, kept as long as its owner keeps it.
   */
  placed(tenant: string, hash: string, workflowId: string, size: number, held = true): Promise<BlobLocation | undefined> {
    return this.db.transaction(() => {
      const before = this.db.get([tenant, hash]);
      // A copy in a run's own bucket is that run's alone; a temporary one keeps the holders of the copy before it.
      const holders = new Set(held ? (before?.holders ?? []) : []);
      if (held) {
        holders.add(workflowId);
        void this.holds.put([tenant, workflowId, hash], true);
      }
      void this.db.put([tenant, hash], holders.size === 0 ? { workflowId, size } : { workflowId, size, holders: [...holders] });
      const orphaned = before !== undefined && before.workflowId !== workflowId && before.holders !== undefined && !before.holders.includes(before.workflowId);
      return orphaned ? before : undefined;
    });
  }

  /**
   * Run `workflowId` uses the tenant's blob too: its copy stays at least until that run's storage
   * expires. Nothing changes for a blob with no location here, or whose copy has no holders.
   */
  hold(tenant: string, workflowId: string, hashes: Iterable<string>): Promise<void> {
    const wanted = [...new Set(hashes)];
    return this.db.transaction(() => {
      for (const hash of wanted) {
        const location = this.db.get([tenant, hash]);
        if (location?.holders === undefined || location.holders.includes(workflowId)) continue;
        void this.db.put([tenant, hash], { ...location, holders: [...location.holders, workflowId] });
        void this.holds.put([tenant, workflowId, hash], true);
      }
    });
  }

  /** The blobs run `workflowId` of `tenant` holds. */
  heldBy(tenant: string, workflowId: string): string[] {
    return [...this.holds.getKeys({ start: [tenant, workflowId], end: [tenant, workflowId, '\uffff'] })].map(([, , hash]) => hash);
  }

  /**
   * Run `workflowId` lets go of the blob (its storage expired). Resolves with the blob's location
   * and whether another run still holds it; the location is forgotten when none does.
   */
  release(tenant: string, workflowId: string, hash: string): Promise<Released | undefined> {
    return this.db.transaction(() => {
      void this.holds.remove([tenant, workflowId, hash]);
      const location = this.db.get([tenant, hash]);
      if (location?.holders === undefined) return undefined;
      const holders = location.holders.filter((holder) => holder !== workflowId);
      if (holders.length > 0) void this.db.put([tenant, hash], { ...location, holders });
      else void this.db.remove([tenant, hash]);
      return { location: { ...location, holders }, held: holders.length > 0 };
    });
  }

  /** Forgets the location of the blob, if it is in run `workflowId`'s storage. */
  async remove(tenant: string, hash: string, workflowId: string): Promise<void> {
    await this.db.transaction(() => {
      if (this.db.get([tenant, hash])?.workflowId === workflowId) void this.db.remove([tenant, hash]);
    });
  }
}
