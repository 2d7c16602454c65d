import { Remoting, type ActorRef } from '@lzy/actors';
import { AGENT_PATH, NODES_PATH, NodesWire, STORAGE_PATH, StorageWire, type AgentMsg } from '@lzy/node-agent/protocol';
import type { NodeDirectory, NodePrincipal } from '../allocator/node-directory.js';
import type { StorageMsg } from '../storage/storage.js';
import type { NodesRouterMsg } from './nodes-router.js';

/**
 * The runtime's ws endpoint. Every connection authenticates in its handshake; a node-agent with
 * its one-time token, which fixes the node and tenant that every message of the connection is
 * stamped with.
 */
export function createGateway(deps: {
  directory: NodeDirectory;
  nodes: ActorRef<NodesRouterMsg>;
  storage: ActorRef<StorageMsg>;
}): Remoting {
  const remoting = new Remoting({
    name: 'lzy-runtime',
    authenticate: (token) => deps.directory.redeem(token),
  });
  remoting.expose(NODES_PATH, deps.nodes, {
    schema: NodesWire,
    withOrigin: (msg, origin) => ({
      type: 'from-node' as const,
      node: origin.principal as NodePrincipal,
      agent: origin.peer.ref<AgentMsg>(AGENT_PATH),
      msg,
    }),
  });
  remoting.expose(STORAGE_PATH, deps.storage, {
    schema: StorageWire,
    withOrigin: (request, origin) => ({ type: 'from-node', node: origin.principal as NodePrincipal, request }) as StorageMsg,
  });
  return remoting;
}
