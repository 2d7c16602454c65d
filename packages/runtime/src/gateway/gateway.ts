import { Remoting, type ActorRef, type Origin } from '@lzy/actors';
import { AGENT_PATH, NODES_PATH, NodesWire, parseJoinCredential, parseKubeCredential, STORAGE_PATH, StorageWire, type AgentMsg } from '@lzy/node-agent/protocol';
import type { NodeDirectory, NodePrincipal } from '../allocator/node-directory.js';
import type { PoolConfig } from '../config.js';
import type { FailedAuthLimiter } from '../iam/failed-auth-limiter.js';
import { TOKEN_PREFIX, type Iam, type Subject } from '../iam/iam.js';
import { TokenVerifier } from '../iam/token-verifier.js';
import { CLIENT_PATH, ClientRequest, EVENTS_PATH, type ClientEvents } from '../protocol/gateway.js';
import type { StorageMsg } from '../storage/storage.js';
import type { ClientsMsg } from './clients.js';
import type { NodesRouterMsg } from './nodes-router.js';

/** The identity of a client connection: the subject its credential stands for, and until when (ms since the epoch) for a JWT. */
export interface ClientPrincipal {
  readonly kind: 'client';
  readonly subject: Subject;
  readonly expiresAt?: number;
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
 * tenant token (IAM's opaque tokens carry its prefix) or a JWT access token of the runtime's own
 * issuer or a trusted one, checked by `verifier`; any other is taken for a node's one-time token.
 * A client whose JWT expires is disconnected unless it renewed it on the connection (for the same
 * subject). Every failed authentication of a client spends one of its address's `limiter` tokens;
 * an address with none left is refused before its credential is looked at. Agents are not limited:
 * their credentials are one-time, bound to a pod, or a pool's join token, and the agents of one
 * host that redial after a restart must not lock out that host's clients.
 * Nodes may address only the node paths, clients only the client path.
 */
export function createGateway(deps: {
  directory: NodeDirectory;
  pools: ReadonlyMap<string, PoolConfig>;
  iam: Iam;
  verifier: TokenVerifier;
  limiter: FailedAuthLimiter;
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
  const admit = async (token: string | undefined, address: string | undefined): Promise<NodePrincipal | ClientPrincipal> => {
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
    if (!token || token.startsWith(TOKEN_PREFIX) || TokenVerifier.isJwt(token)) return limited(address, () => client(token));
    try {
      return deps.directory.redeem(token);
    } catch {
      throw new Error('unknown token (neither a tenant token nor an unused node token)');
    }
  };
  const client = async (token: string | undefined): Promise<ClientPrincipal> => {
    if (!token) throw new Error('no token given');
    const { subject, expiresAt } = await deps.verifier.verify(token);
    return { kind: 'client', subject, ...(expiresAt === undefined ? {} : { expiresAt }) };
  };
  /** Runs `check`, spending one of the address's tokens when it fails; refuses at once when none is left. */
  const limited = async <T>(address: string | undefined, check: () => Promise<T>): Promise<T> => {
    deps.limiter.check(address);
    try {
      return await check();
    } catch (error) {
      deps.limiter.failed(address);
      throw error;
    }
  };
  const remoting = new Remoting({
    name: 'lzy-runtime',
    authenticate: (token, _hello, { remoteAddress }) => admit(token, remoteAddress),
    reauthenticate: (token, current, { remoteAddress }) =>
      limited(remoteAddress, async () => {
        if (!isClient(current)) throw new Error('only a client renews its credential');
        const renewed = await client(token);
        const { id, tenant } = (current as ClientPrincipal).subject;
        if (renewed.subject.id !== id || renewed.subject.tenant !== tenant) {
          throw new Error(`a renewed credential must be for the same subject (${id} of tenant ${tenant})`);
        }
        return renewed;
      }),
    expiresAt: (principal) => (isClient(principal) ? (principal as ClientPrincipal).expiresAt : undefined),
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
