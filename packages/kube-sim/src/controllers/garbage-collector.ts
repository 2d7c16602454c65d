// The garbage collectors: pods whose node is gone are removed at once, finalizers or not (as the
// pod garbage collector force-deletes orphaned pods), and pods whose owner is gone are deleted.
import { nodeKind, podKind, STORED_KINDS } from '../kinds/index.js';
import { objectAt, stringAt } from '../json.js';
import { objectItems } from '../kinds/validation.js';
import type { ObjectStore } from '../store.js';
import { Reconciler } from './reconciler.js';

/** Force-removes pods bound to a deleted node, and deletes pods whose owner was deleted. */
export function startGarbageCollector(store: ObjectStore): Reconciler {
  const reconciler: Reconciler = new Reconciler(
    store.hub,
    (event) => event.type === 'DELETED' || (event.type === 'ADDED' && event.kind === podKind),
    () => {
      const nodes = new Set([...store.scan(nodeKind)].map((node) => stringAt(objectAt(node, 'metadata'), 'name')));
      const owners = new Set<string>();
      for (const pod of [...store.scan(podKind)]) {
        for (const [, ref] of objectItems(objectAt(pod, 'metadata')?.ownerReferences)) owners.add(`${String(ref.kind)}/${String(ref.uid)}`);
      }
      const liveOwners = new Set<string>();
      for (const key of owners) {
        const [kindName, uid] = key.split('/') as [string, string];
        const kind = STORED_KINDS.find((k) => k.kind === kindName);
        if (kind && [...store.scan(kind)].some((o) => objectAt(o, 'metadata')?.uid === uid)) liveOwners.add(key);
      }
      for (const pod of [...store.scan(podKind)]) {
        const metadata = objectAt(pod, 'metadata');
        const nodeName = stringAt(objectAt(pod, 'spec'), 'nodeName');
        const orphanedByNode = nodeName !== undefined && !nodes.has(nodeName);
        const refs = objectItems(metadata?.ownerReferences).map(([, ref]) => `${String(ref.kind)}/${String(ref.uid)}`);
        const orphanedByOwner = refs.length > 0 && refs.every((ref) => !liveOwners.has(ref));
        if (orphanedByNode) store.forceDelete(podKind, stringAt(metadata, 'namespace'), String(metadata?.name));
        else if (orphanedByOwner) store.delete(podKind, stringAt(metadata, 'namespace'), String(metadata?.name));
      }
    },
  );
  return reconciler;
}
