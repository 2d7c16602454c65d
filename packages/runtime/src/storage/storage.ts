import { ActorError, spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import { RuntimeError } from '../protocol/errors.js';
import type { StorageWireMsg } from '@lzy/node-agent/protocol';
import type { NodePrincipal } from '../allocator/node-directory.js';
import type { AttemptGrants } from './attempt-grants.js';
import type { BlobStore } from './blob-store.js';

/** A storage request from a node, with the node's verified identity; the reply is an `Error` when it failed or was refused. */
export type StorageMsg = { type: 'from-node'; node: NodePrincipal; request: StorageWireMsg; replyTo: ActorRef<unknown> };

/**
 * The storage service as nodes see it: blobs read and written in chunks through the runtime, or
 * with presigned URLs where the store gives them, each confined to the node's own tenant (a static
 * pool's node that is not leased yet has none, and may do nothing) and to what `grants` lets the
 * node do: read the bundles and inputs of the attempts it runs, write as one of those attempts,
 * into that attempt's run. A failed or refused request gets an error reply, so the asking node
 * hears why, and changes nothing.
 */
export function spawnStorage(parent: Parent, store: BlobStore, grants: AttemptGrants): ActorRef<StorageMsg> {
  return spawnActor<undefined, StorageMsg>(parent, {
    name: 'storage',
    initialState: () => undefined,
    supervision: 'resume',
    receive: async (state, { node, request, replyTo }) => {
      try {
        tell(replyTo, await answer(store, grants, node, request));
      } catch (error) {
        // A refusal with a code (a full quota) reaches the node with that code.
        tell(replyTo, error instanceof RuntimeError ? new ActorError(error.code, error.message) : error instanceof Error ? error : new Error(String(error)));
      }
      return state;
    },
  });
}

async function answer(store: BlobStore, grants: AttemptGrants, node: NodePrincipal, request: StorageWireMsg): Promise<unknown> {
  const tenant = node.tenant;
  if (tenant === undefined) throw new Error(`node ${node.nodeId} is not leased to a tenant: it has no storage`);
  switch (request.type) {
    case 'read':
      grants.checkRead(node, request.uri);
      return store.read(tenant, request.uri, request.offset, request.length);
    case 'presign-read':
      grants.checkRead(node, request.uri);
      return (await store.presignRead(tenant, request.uri)) ?? null;
    case 'write':
      await store.writeChunk(tenant, grants.checkWrite(node, request.attemptId), request);
      return true;
    case 'presign-write':
      return (await store.presignWrite(tenant, grants.checkWrite(node, request.attemptId), request.hash, request.size)) ?? null;
    case 'commit':
      await store.commit(tenant, grants.checkWrite(node, request.attemptId), request.hash, request.size);
      return true;
    case 'multipart-create':
      return (await store.createMultipart(tenant, grants.checkWrite(node, request.attemptId), request.attemptId, request.hash, request.size)) ?? null;
    case 'multipart-part':
      grants.checkWrite(node, request.attemptId);
      return store.presignPart(tenant, request.attemptId, request.uploadId, request.partNumber);
    case 'multipart-complete':
      grants.checkWrite(node, request.attemptId);
      await store.completeMultipart(tenant, request.attemptId, request.uploadId, request.parts);
      return true;
    case 'multipart-abort':
      grants.checkWrite(node, request.attemptId);
      await store.abortMultipart(tenant, request.attemptId, request.uploadId);
      return true;
  }
}
