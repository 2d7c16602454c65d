import { createHash } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import type { DataRef } from '@lzy/node-agent/protocol';
import type { CacheMiss, CacheSpec, OpSpec } from '../protocol/client.js';

/** What the cache remembers of the last run of a cached op (by tenant, module and export): enough to explain the next miss. */
interface LastRun {
  version: string;
  codeHash: string;
  files: Array<[string, string]>;
}

/**
 * Results of cached ops, per tenant. The key covers the op's identity (module, export), its
 * declared version, the hash of its code (its bundle: its module, the local files it imports and
 * the versions of the packages it bundles) and the hashes of its inputs, so an edited op, an
 * edited helper it imports or new inputs never return a stale result. Only successes are stored.
 * Beside them it keeps the code of each op's last run and the keys whose last run failed, to say
 * why an op missed the cache.
 */
export class CacheIndex {
  private readonly db: Database<DataRef, string>;
  private readonly lastRuns: Database<LastRun, string>;
  private readonly failedKeys: Database<number, string>;
  private closed = false;

  /** @param stored whether a tenant's stored result is still there (temporary storage expires) */
  constructor(
    root: RootDatabase,
    private readonly stored: (tenant: string, uri: string) => boolean = () => true,
  ) {
    this.db = root.openDB<DataRef, string>({ name: 'cache' });
    this.lastRuns = root.openDB<LastRun, string>({ name: 'cache-last-runs' });
    this.failedKeys = root.openDB<number, string>({ name: 'cache-failed-keys' });
  }

  /** The cache key of `spec` called with `args`; undefined when the op is not cached. */
  keyOf(spec: OpSpec, args: DataRef[]): string | undefined {
    if (!spec.cache) return undefined;
    const hash = createHash('sha256');
    for (const part of [spec.module, spec.exportName, spec.cache.version, spec.cache.codeHash, ...args.map((a) => a.hash)]) {
      hash.update(part).update('\u0000');
    }
    return hash.digest('hex');
  }

  /** The cached result; none when its stored value has expired. */
  get(tenant: string, key: string): DataRef | undefined {
    const result = this.db.get(`${tenant}\u0000${key}`);
    return result && this.live(tenant, result) ? result : undefined;
  }

  private live(tenant: string, result: DataRef): boolean {
    return result.inline !== undefined || result.uri === undefined || this.stored(tenant, result.uri);
  }

  /** Why the cached op `spec` found nothing under `key`, from what the cache remembers of its earlier runs. */
  explainMiss(tenant: string, spec: OpSpec & { cache: CacheSpec }, key: string): CacheMiss {
    if (this.failedKeys.get(`${tenant}\u0000${key}`) !== undefined) return { reason: 'previous-failed' };
    if (this.db.doesExist(`${tenant}\u0000${key}`)) return { reason: 'result-expired' };
    const last = this.lastRuns.get(lastRunKey(tenant, spec));
    if (!last) return { reason: 'never-cached' };
    if (last.version !== spec.cache.version) return { reason: 'version-changed' };
    if (last.codeHash !== spec.cache.codeHash) {
      const files = changedFiles(last.files, spec.cache.files ?? []);
      return files.length > 0 ? { reason: 'code-changed', files } : { reason: 'code-changed' };
    }
    return { reason: 'inputs-changed' };
  }

  /** Records a success; after `close` (the runtime is stopping) it is dropped, and the op simply runs next time. */
  put(tenant: string, spec: OpSpec, key: string, result: DataRef): void {
    if (this.closed) return;
    void this.db.put(`${tenant}\u0000${key}`, result);
    void this.failedKeys.remove(`${tenant}\u0000${key}`);
    this.rememberRun(tenant, spec);
  }

  /** Records that the op's run under `key` failed for good: its next miss says so. */
  putFailure(tenant: string, spec: OpSpec, key: string): void {
    if (this.closed) return;
    void this.failedKeys.put(`${tenant}\u0000${key}`, Date.now());
    this.rememberRun(tenant, spec);
  }

  private rememberRun(tenant: string, spec: OpSpec): void {
    if (!spec.cache) return;
    const { version, codeHash, files = [] } = spec.cache;
    void this.lastRuns.put(lastRunKey(tenant, spec), { version, codeHash, files });
  }

  close(): void {
    this.closed = true;
  }
}

function lastRunKey(tenant: string, spec: OpSpec): string {
  return `${tenant}\u0000${spec.module}\u0000${spec.exportName}`;
}

/** The files whose hash differs between two runs, added and removed ones too, sorted. */
function changedFiles(before: Array<[string, string]>, now: Array<[string, string]>): string[] {
  const old = new Map(before);
  const changed = new Set<string>();
  for (const [name, hash] of now) {
    if (old.get(name) !== hash) changed.add(name);
    old.delete(name);
  }
  for (const name of old.keys()) changed.add(name);
  return [...changed].sort();
}
