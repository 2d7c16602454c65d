import { Remoting, type ActorRef, type Origin } from '@lzy/actors';
import { AGENT_PATH, NODES_PATH, NodesWire, parseJoinCredential, parseKubeCredential, STORAGE_PATH, StorageWire, type AgentMsg } from '@lzy/node-agent/protocol';
import type { NodeDirectory, NodePrincipal } from '../allocator/node-directory.js';
import type { PoolConfig } from '../config.js';
import type { FailedAuthLimiter } from '../iam/failed-auth-limiter.js';
import { TOKEN_PREFIX, type Iam, type Subject } from '../iam/iam.js';
import { TokenVerifier } from '../iam/token-verifier.js';
import { WorkerTokens } from '../iam/worker-tokens.js';
import { CLIENT_PATH, ClientRequest, EVENTS_PATH, type ClientEvents } from '../protocol/gateway.js';
import type { StorageMsg } from '../storage/storage.js';
import type { ClientsMsg } from './clients.js';
import type { NodesRouterMsg } from './nodes-router.js';
import { publishAuthFailed } from '../observe/events.js';

/** The identity of a client connection: the subject its credential stands for, and until when (ms since the epoch) for a JWT. */
export interface ClientPrincipal {
  readonly kind: 'client';
  readonly subject: Subject;
  readonly expiresAt?: number;
}

const isNode = (principal: unknown) => (principal as NodePrincipal).kind === 'node';
const isClient = (principal: unknown) => (principal as ClientPrincipal).kind === 'client';
/** Why a node-agent's connection may not call the client API. */
const NOT_A_CLIENT = "this connection is a node-agent's (its credential is a node's, such as a worker token): it cannot act as a client";

/**
 * The runtime's ws endpoint, for node-agents and remote clients alike. Every connection
 * authenticates in its handshake: a node-agent with its one-time token, which fixes the node and
 * tenant that every message of the connection is stamped with; an agent joining a static pool with
 * the pool's name and join token, which make it a new node of that pool (its tenant is set when
 * the pool leases it); an agent on a Kubernetes node with its pod's projected token, which makes
 * it the node of the lease that holds that node (see `KubeBackend.admit`); a client with its
 * tenant token (IAM's opaque tokens carry its prefix) or a JWT access token of the runtime's own
 * issuer or a trusted one, checked by `verifier`; an agent with the worker token its lease gave it
 * (`WorkerTokens`), which makes it that lease's node; any other is taken for a node's one-time token.
 * A node-agent renews its connection's credential with the worker tokens of its own node only: the
 * connection then closes when its token expires unrenewed, and its messages are refused the moment
 * its lease is released.
 * A client whose JWT expires is disconnected unless it renewed it on the connection (for the same
 * subject). Every failed authentication of a client spends one of its address's `limiter` tokens;
 * an address with none left is refused before its credential is looked at. Agents are not limited:
 * their credentials are one-time, bound to a pod, or a pool's join token, and the agents of one
 * host that redial after a restart must not lock out that host's clients.
 * Nodes may address only the node paths, clients only the client path.
 */
export function createGateway(deps: {
  directory: NodeDirectory;
  workerTokens: WorkerTokens;
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
    if (token !== undefined && WorkerTokens.isWorkerToken(token)) return worker(token);
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
  /** The node a worker token stands for, while its lease lives. */
  const worker = async (token: string): Promise<NodePrincipal> => {
    const { nodeId, tenant, pool, joined, expiresAt } = await deps.workerTokens.verify(token);
    if (!deps.directory.live(nodeId)) throw new Error(`worker token refused: the lease of node ${nodeId} has ended`);
    return { kind: 'node', nodeId, tenant, pool, joined, workerTokenExpiresAt: expiresAt };
  };
  /** A node-agent's renewed credential: a worker token of its own node (and tenant, once it has one). */
  const renewNode = async (token: string, current: NodePrincipal): Promise<NodePrincipal> => {
    if (!WorkerTokens.isWorkerToken(token)) throw new Error('a node-agent renews its credential with a worker token only');
    const renewed = await worker(token);
    if (renewed.nodeId !== current.nodeId) throw new Error(`this connection is node ${current.nodeId}'s: a worker token of node ${renewed.nodeId} is not its own`);
    if (current.tenant !== undefined && renewed.tenant !== current.tenant) throw new Error(`this node serves tenant ${current.tenant}, not ${renewed.tenant}`);
    return renewed;
  };
  const client = async (token: string | undefined): Promise<ClientPrincipal> => {
    if (!token) throw new Error('no token given');
    if (WorkerTokens.isWorkerToken(token)) throw new Error(NOT_A_CLIENT);
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
    authenticate: (token, _hello, { remoteAddress }) =>
      admit(token, remoteAddress).catch((error: Error) => {
        publishAuthFailed({ reason: error.message });
        throw error;
      }),
    reauthenticate: (token, current, { remoteAddress }) =>
      isNode(current) ? renewNode(token, current as NodePrincipal) : limited(remoteAddress, async () => {
        if (!isClient(current)) throw new Error('only a client or a node renews its credential');
        const renewed = await client(token);
        const { id, tenant } = (current as ClientPrincipal).subject;
        if (renewed.subject.id !== id || renewed.subject.tenant !== tenant) {
          throw new Error(`a renewed credential must be for the same subject (${id} of tenant ${tenant})`);
        }
        return renewed;
      }),
    expiresAt: (principal) => (isClient(principal) ? (principal as ClientPrincipal).expiresAt : (principal as NodePrincipal).workerTokenExpiresAt),
    onPeer: (peer) => {
      const principal = peer.principal as NodePrincipal | ClientPrincipal;
      if (principal.kind === 'node') deps.directory.link(principal, () => peer.state !== 'closed');
    },
  });
  /** A node's connection is heard while its worker token's lease lives (or before it was given one). */
  const liveNode = (principal: unknown) => isNode(principal) && ((principal as NodePrincipal).workerTokenExpiresAt === undefined || deps.directory.live((principal as NodePrincipal).nodeId));
  const nodeRefusal = (principal: unknown) =>
    isNode(principal) ? `the lease of node ${(principal as NodePrincipal).nodeId} has ended: its worker token no longer works` : 'only node-agents may address the node services';
  remoting.expose(NODES_PATH, deps.nodes, {
    schema: NodesWire,
    allow: liveNode,
    refusal: nodeRefusal,
    withOrigin: (msg, origin) => ({
      type: 'from-node' as const,
      node: origin.principal as NodePrincipal,
      agent: agentOf(origin.peer),
      msg,
    }),
  });
  remoting.expose(STORAGE_PATH, deps.storage, {
    schema: StorageWire,
    allow: liveNode,
    refusal: nodeRefusal,
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
    refusal: (principal) => (isNode(principal) ? NOT_A_CLIENT : 'this connection may not call the client API'),
    withOrigin: (request, origin) => ({
      type: 'request' as const,
      subject: (origin.principal as ClientPrincipal).subject,
      events: origin.peer.ref<ClientEvents>(EVENTS_PATH),
      request,
    }),
  });
}
