import { Remoting, type ActorRef, type Origin } from '@lzy/actors';
import { AGENT_PATH, NODES_PATH, NodesWire, parseJoinCredential, parseKubeCredential, STORAGE_PATH, StorageWire, type AgentMsg } from '@lzy/node-agent/protocol';
import type { NodeDirectory, NodePrincipal } from '../allocator/node-directory.js';
import type { PoolConfig } from '../config.js';
import { TOKEN_PREFIX, type Iam, type Subject } from '../iam/iam.js';
import { CLIENT_PATH, ClientRequest, EVENTS_PATH, type ClientEvents } from '../protocol/gateway.js';
import type { StorageMsg } from '../storage/storage.js';
import type { ClientsMsg } from './clients.js';
import type { NodesRouterMsg } from './nodes-router.js';

/** The identity of a client connection: the subject its tenant token stands for. */
export interface ClientPrincipal {
  readonly kind: 'client';
  readonly subject: Subject;
}

const isNode = (principal: unknown) => (principal as NodePrincipal).kind === 'node';
const isClient = (principal: unknown) => (principal as ClientPrincipal).kind === 'client';

/**
 * The runtime's ws endpoint, for node-agents and remote clients alike. Every connection
 * authenticates in its handshake: a node-agent with its one-time token, which fixes the node and
 * tenant that every message of the connection is stamped with; an agent joining a static pool with
 * the pool's name and join token, which make it a new node of that pool (its tenant is set when
 * the pool leases it); an agent on a Kubernetes node with its pod's projected token, which makes
 * it the node of the lease that holds that node (see `KubeBackend.admit`); a client with its
 * tenant token, checked by IAM (IAM's tokens carry its prefix; any other is taken for a node's
 * one-time token).
 * Nodes may address only the node paths, clients only the client path.
 */
export function createGateway(deps: {
  directory: NodeDirectory;
  pools: ReadonlyMap<string, PoolConfig>;
  iam: Iam;
  nodes: ActorRef<NodesRouterMsg>;
  storage: ActorRef<StorageMsg>;
  clients: ActorRef<ClientsMsg>;
  /** Admits the agents of Kubernetes nodes (again, after a dropped connection); absent when no pool is of kind `kubernetes`. */
  kube?: { admit(token: string, connected: (node: NodePrincipal) => boolean): Promise<NodePrincipal> };
}): Remoting {
  // One agent reference per connection, so that a lease can tell its agent's new connection from the old one.
  const agents = new WeakMap<Origin['peer'], ActorRef<AgentMsg>>();
  const agentOf = (peer: Origin['peer']) => {
    let agent = agents.get(peer);
    if (!agent) agents.set(peer, (agent = peer.ref<AgentMsg>(AGENT_PATH)));
    return agent;
  };
  const remoting = new Remoting({
    name: 'lzy-runtime',
    authenticate: (token): NodePrincipal | ClientPrincipal | Promise<NodePrincipal> => {
      const kubeToken = token === undefined ? undefined : parseKubeCredential(token);
      if (kubeToken !== undefined) {
        if (!deps.kube) throw new Error('this runtime has no Kubernetes pool');
        return deps.kube.admit(kubeToken, (node) => deps.directory.connected(node));
      }
      const join = token === undefined ? undefined : parseJoinCredential(token);
      if (join) {
        deps.iam.verifyJoin(join.token, join.pool);
        // The token may outlive its pool: the pools file changed since it was issued.
        if (deps.pools.get(join.pool)?.kind !== 'static') throw new Error(`this runtime has no static pool named ${join.pool}`);
        return deps.directory.join(join.pool);
      }
      if (!token || token.startsWith(TOKEN_PREFIX)) return { kind: 'client', subject: deps.iam.verify(token) };
      try {
        return deps.directory.redeem(token);
      } catch {
        throw new Error('unknown token (neither a tenant token nor an unused node token)');
      }
    },
    onPeer: (peer) => {
      const principal = peer.principal as NodePrincipal | ClientPrincipal;
      if (principal.kind === 'node') deps.directory.link(principal, () => peer.state !== 'closed');
    },
  });
  remoting.expose(NODES_PATH, deps.nodes, {
    schema: NodesWire,
    allow: isNode,
    withOrigin: (msg, origin) => ({
      type: 'from-node' as const,
      node: origin.principal as NodePrincipal,
      agent: agentOf(origin.peer),
      msg,
    }),
  });
  remoting.expose(STORAGE_PATH, deps.storage, {
    schema: StorageWire,
    allow: isNode,
    withOrigin: (request, origin) => ({ type: 'from-node', node: origin.principal as NodePrincipal, request }) as StorageMsg,
  });
  exposeClients(remoting, deps.clients);
  return remoting;
}

/** Lets the client connections of `remoting` address the clients service, each as its principal's subject. */
export function exposeClients(remoting: Remoting, clients: ActorRef<ClientsMsg>): void {
  remoting.expose(CLIENT_PATH, clients, {
    schema: ClientRequest,
    allow: isClient,
    withOrigin: (request, origin) => ({
      type: 'request' as const,
      subject: (origin.principal as ClientPrincipal).subject,
      events: origin.peer.ref<ClientEvents>(EVENTS_PATH),
      request,
    }),
  });
}
