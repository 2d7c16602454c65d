import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { StorageWireMsg } from '@lzy/node-agent/protocol';
import type { NodePrincipal } from '../allocator/node-directory.js';
import type { AttemptGrants } from './attempt-grants.js';
import type { FileStore } from './file-store.js';

/** A storage request from a node, with the node's verified identity. */
export type StorageMsg =
  | { type: 'from-node'; node: NodePrincipal; request: Extract<StorageWireMsg, { type: 'write' }>; replyTo: ActorRef<true | Error> }
  | { type: 'from-node'; node: NodePrincipal; request: Extract<StorageWireMsg, { type: 'read' }>; replyTo: ActorRef<Uint8Array | Error> };

/**
 * The storage service as nodes see it: chunked reads and writes of blobs, each confined to the
 * node's own tenant (a static pool's node that is not leased yet has none, and may do neither) and
 * to what `grants` lets the node do: read the bundles and inputs of the attempts it runs, write as
 * one of those attempts. A failed or refused request gets an error reply, so the asking node hears
 * why, and changes nothing.
 */
export function spawnStorage(parent: Parent, store: FileStore, grants: AttemptGrants): ActorRef<StorageMsg> {
  return spawnActor<undefined, StorageMsg>(parent, {
    name: 'storage',
    initialState: () => undefined,
    supervision: 'resume',
    receive: async (state, msg) => {
      const { node, request } = msg;
      const replyTo = msg.replyTo as ActorRef<unknown>;
      try {
        const tenant = node.tenant;
        if (tenant === undefined) throw new Error(`node ${node.nodeId} is not leased to a tenant: it has no storage`);
        if (request.type === 'read') {
          grants.checkRead(node, request.uri);
          tell(replyTo, await store.read(tenant, request.uri, request.offset, request.length));
        } else {
          grants.checkWrite(node, request.attemptId);
          await store.writeChunk(tenant, request);
          tell(replyTo, true);
        }
      } catch (error) {
        tell(replyTo, error instanceof Error ? error : new Error(String(error)));
      }
      return state;
    },
  });
}
