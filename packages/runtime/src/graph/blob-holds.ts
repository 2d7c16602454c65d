import type { OpSpec } from '../protocol/client.js';
import type { BlobStore } from '../storage/blob-store.js';

/** What a run needs of its tenant's stored blobs: whether one is still there, and to hold those it uses. */
export type BlobHolds = Pick<BlobStore, 'has' | 'hold'>;

/** The stored blobs `ops` refer to, each once: their bundles and their stored value arguments. */
export function storedUris(ops: readonly OpSpec[]): string[] {
  const uris = new Set<string>();
  // Indexed: this runs once per submission over every op.
  for (let i = 0; i < ops.length; i++) {
    const { bundle, args } = ops[i]!;
    if (bundle) uris.add(bundle.uri);
    for (let j = 0; j < args.length; j++) {
      const arg = args[j]!;
      if (arg.kind === 'value' && arg.ref.inline === undefined && arg.ref.uri !== undefined) uris.add(arg.ref.uri);
    }
  }
  return [...uris];
}

/** Why a submission that refers to the stored blobs `gone`, which are not there, is refused; undefined when none is gone. */
export function goneBlobsProblem(gone: readonly string[]): string | undefined {
  if (gone.length === 0) return undefined;
  const named = gone.slice(0, 3).join(', ') + (gone.length > 3 ? ` and ${gone.length - 3} more` : '');
  return `this submission refers to stored values or bundles that are no longer stored (the temporary storage of the runs that stored them expired, or they never were): ${named}; store them again`;
}
