import { createHash } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import type { DataRef } from '@lzy/node-agent/protocol';
import type { OpSpec } from '../protocol/client.js';

/**
 * Results of cached ops, per tenant. The key covers the op's identity (module, export), its
 * declared version, a hash of its code and the hashes of its inputs, so an edited op body or new
 * inputs never return a stale result. Only successes are stored.
 */
export class CacheIndex {
  private readonly db: Database<DataRef, string>;
  private closed = false;

  constructor(root: RootDatabase) {
    this.db = root.openDB<DataRef, string>({ name: 'cache' });
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

  get(tenant: string, key: string): DataRef | undefined {
    return this.db.get(`${tenant}\u0000${key}`);
  }

  /** Records a success; after `close` (the runtime is stopping) it is dropped, and the op simply runs next time. */
  put(tenant: string, key: string, result: DataRef): void {
    if (!this.closed) void this.db.put(`${tenant}\u0000${key}`, result);
  }

  close(): void {
    this.closed = true;
  }
}
