import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { StorageWireMsg } from '@lzy/node-agent/protocol';
import type { NodePrincipal } from '../allocator/node-directory.js';
import type { FileStore } from './file-store.js';

/** A storage request from a node, with the node's verified identity. */
export type StorageMsg =
  | { type: 'from-node'; node: NodePrincipal; request: Extract<StorageWireMsg, { type: 'write' }>; replyTo: ActorRef<true | Error> }
  | { type: 'from-node'; node: NodePrincipal; request: Extract<StorageWireMsg, { type: 'read' }>; replyTo: ActorRef<Uint8Array | Error> };

/**
 * The storage service as nodes see it: chunked reads and writes of blobs, each confined to the
 * node's own tenant (a static pool's node that is not leased yet has none, and may do neither). A
 * failed request gets an error reply, so the asking node hears why.
 */
export function spawnStorage(parent: Parent, store: FileStore): ActorRef<StorageMsg> {
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
        if (request.type === 'read') tell(replyTo, await store.read(tenant, request.uri, request.offset, request.length));
        else {
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
