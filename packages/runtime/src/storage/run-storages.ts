import type { Database, RootDatabase } from 'lmdb';
import { RuntimeError } from '../protocol/errors.js';
import type { S3Bucket, S3Location } from './s3-bucket.js';
import { joinKey, type RunPlace } from './s3-store.js';

/** A run's own storage, as the workflow names it: its values go to `bucket` under `prefix`. */
export interface OwnStorage extends S3Location {
  prefix?: string;
}

type BucketModule = typeof import('./s3-bucket.js');

/**
 * The runs that store their values in their own bucket, with what reaching it takes (credentials
 * included: only the runtime holds them, in its lmdb state, so that a restart resumes the run;
 * they never reach a node, a log line or a status). The S3 client library is loaded only once a
 * run names a bucket.
 */
export class RunStorages {
  private readonly buckets = new Map<string, RunPlace>();

  private constructor(
    private readonly db: Database<OwnStorage, [string, string]>,
    private module: BucketModule | undefined,
  ) {}

  static async open(root: RootDatabase): Promise<RunStorages> {
    const db = root.openDB<OwnStorage, [string, string]>({ name: 'run-storages' });
    const anyRun = db.getKeysCount({ limit: 1 }) > 0;
    return new RunStorages(db, anyRun ? await import('./s3-bucket.js') : undefined);
  }

  /**
   * Checks that a run of `tenant` may store its values in `storage` and that the bucket is there:
   * a tenant names the credentials of its bucket (without them the runtime's own would be used,
   * which reach other tenants' values); only an admin may leave them out.
   */
  async check(storage: OwnStorage, admin: boolean): Promise<void> {
    if (storage.credentials === undefined && !admin) {
      throw new RuntimeError('BAD_STORAGE', `storage in bucket ${storage.bucket} needs its credentials ({ accessKeyId, secretAccessKey }): the runtime does not lend its own`);
    }
    this.module ??= await import('./s3-bucket.js');
    const bucket = new this.module.S3Bucket(storage);
    try {
      await bucket.check();
    } catch (error) {
      throw new RuntimeError('BAD_STORAGE', (error as Error).message);
    } finally {
      bucket.close();
    }
  }

  /** From now on the values of run `workflowId` of `tenant` go to `storage` (checked with `check`). */
  async register(tenant: string, workflowId: string, storage: OwnStorage): Promise<void> {
    this.module ??= await import('./s3-bucket.js');
    await this.db.put([tenant, workflowId], storage);
  }

  has(tenant: string, workflowId: string): boolean {
    return this.db.doesExist([tenant, workflowId]);
  }

  /** Where the values of run `workflowId` of `tenant` go; throws when it has no storage of its own. */
  placeOf(tenant: string, workflowId: string): RunPlace {
    const id = `${tenant}\u0000${workflowId}`;
    let place = this.buckets.get(id);
    if (!place) {
      const storage = this.db.get([tenant, workflowId]);
      if (!storage || !this.module) throw new Error(`run ${workflowId} has no storage of its own`);
      const bucket = new this.module.S3Bucket(storage);
      const prefix = joinKey(storage.prefix);
      place = { bucket, prefix: prefix === '' ? '' : `${prefix}/`, keyOf: (hash) => joinKey(storage.prefix, hash) };
      this.buckets.set(id, place);
    }
    return place;
  }

  close(): void {
    for (const { bucket } of this.buckets.values()) bucket.close();
    this.buckets.clear();
  }
}
