import type { BundleRef } from '@lzy/node-agent/protocol';
import type { CacheSpec, RuntimeConnection } from '@lzy/runtime';
import { bundleModule } from './bundle.js';

/** An op module as shipped: the ref op specs carry to the nodes, and the code it was built from (for cache keys). */
export interface ShippedModule {
  readonly bundle: BundleRef;
  readonly code: Pick<CacheSpec, 'codeHash' | 'files'>;
}

/** Bundles already put through each connection (into its tenant's storage), by hash. */
const shipped = new WeakMap<RuntimeConnection, Map<string, Promise<BundleRef>>>();

/**
 * Forgets what was shipped through `connection`: the runtime said a bundle is no longer stored
 * (the temporary storage of the run that shipped it expired, with every run that used it since).
 */
export function forgetShipped(connection: RuntimeConnection): void {
  shipped.delete(connection);
}

/**
 * Ships the op module at `module` through `connection`: bundles it (see `bundleModule`) and puts
 * the bundle in the tenant's storage (as a value of run `workflowId`, the first to ship it), once
 * per content and connection.
 */
export async function shipModule(connection: RuntimeConnection, module: string, workflowId: string): Promise<ShippedModule> {
  const { bytes, hash, codeHash, files } = await bundleModule(module);
  let byHash = shipped.get(connection);
  if (!byHash) shipped.set(connection, (byHash = new Map()));
  let ref = byHash.get(hash);
  if (!ref) {
    ref = connection.putBlob(workflowId, bytes).then(({ uri, size, hash }) => ({ uri, size, hash }));
    byHash.set(hash, ref);
    // A failed upload is tried again by the next submission.
    ref.catch(() => byHash.delete(hash));
  }
  return { bundle: await ref, code: { codeHash, files } };
}
