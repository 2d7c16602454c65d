import type { Database, RootDatabase } from 'lmdb';
import { RuntimeError } from '../protocol/errors.js';

/** 10 GiB: the default size limit of a run's temporary storage. */
export const DEFAULT_TEMP_QUOTA_BYTES = 10 * 1024 ** 3;

/**
 * The size limit of each run's temporary storage (a run that names no bucket of its own), and how
 * much of it each run uses, in the runtime's lmdb state. S3 has no quotas: every write of a run is
 * checked here before it is allowed (a presigned PUT signs its length) and counted once stored.
 */
export class TempQuota {
  private readonly used: Database<number, [string, string]>;
  /** The blobs each run has stored, each counted once. */
  private readonly counted: Database<true, [string, string, string]>;

  constructor(
    root: RootDatabase,
    readonly limitBytes: number,
  ) {
    this.used = root.openDB<number, [string, string]>({ name: 'temp-usage' });
    this.counted = root.openDB<true, [string, string, string]>({ name: 'temp-usage-blobs' });
  }

  usage(tenant: string, workflowId: string): number {
    return this.used.get([tenant, workflowId]) ?? 0;
  }

  /**
   * Throws `STORAGE_QUOTA_EXCEEDED`, naming the quota and the usage, when blob `hash` of `bytes`
   * would not fit in the run's storage; a blob the run already stored costs nothing more. A blob
   * not named yet (`hash` undefined) is counted whole.
   */
  check(tenant: string, workflowId: string, hash: string | undefined, bytes: number): void {
    if (hash !== undefined && this.counted.doesExist([tenant, workflowId, hash])) return;
    const usage = this.usage(tenant, workflowId);
    if (usage + bytes <= this.limitBytes) return;
    throw new RuntimeError(
      'STORAGE_QUOTA_EXCEEDED',
      `run ${workflowId} would store ${formatBytes(bytes)} more in its temporary storage, which holds ${formatBytes(usage)} of its ${formatBytes(this.limitBytes)} quota`,
    );
  }

  /** The run's temporary storage is gone: so is what it counted. */
  async forget(tenant: string, workflowId: string): Promise<void> {
    for (const key of this.counted.getKeys({ start: [tenant, workflowId], end: [tenant, workflowId, '\uffff'] })) await this.counted.remove(key);
    await this.used.remove([tenant, workflowId]);
  }

  /** Blob `hash` of `bytes` is stored for the run. */
  async add(tenant: string, workflowId: string, hash: string, bytes: number): Promise<void> {
    // One write transaction: two blobs stored at once both count, and a blob counts once.
    await this.used.transaction(() => {
      if (this.counted.doesExist([tenant, workflowId, hash])) return;
      this.counted.putSync([tenant, workflowId, hash], true);
      this.used.putSync([tenant, workflowId], this.usage(tenant, workflowId) + bytes);
    });
  }
}

/** `1.5 GiB`, `512 KiB`, `12 B`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toFixed(1))} ${units[unit]}`;
}
