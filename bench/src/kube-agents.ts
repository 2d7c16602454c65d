// The kube bench's node-agents: light, in-process agents of the agent pods the simulator starts.
// Each speaks the real node-agent protocol to the runtime's gateway over its own ws connection:
// it proves where it runs with its pod's projected token (audience lzy, checked by TokenReview and
// the pod's node), registers its slots, sends heartbeats, and answers each attempt at once with
// its first argument as the result (the bench's ops return their argument). A real node-agent
// process per node (a Node.js process plus its runner processes) would not fit 1,000 times on
// this 2-core machine; what the bench measures is the lease path, which these agents take whole.
import { Remoting, spawnActor, startActorSystem, tell, type ActorRef, type Origin, type Peer } from '@lzy/actors';
import { lightAgents, type PodAgent, type PodAgentLauncher, type PodContext } from '@lzy/kube-sim';
import { AGENT_PATH, AgentWire, kubeCredential, NODES_PATH, type AgentMsg, type NodesWireMsg } from '@lzy/node-agent/protocol';

/** What the agents need: where the runtime is, and a projected token for each agent pod. */
export interface InProcessAgentOptions {
  /** The runtime's gateway URL (known once the runtime listens, before any node is leased). */
  serverUrl(): string;
  /** The pod's projected ServiceAccount token for the audience lzy. */
  token(context: PodContext): string;
  slots: number;
  heartbeatMs: number;
  /** An agent the runtime refused. */
  refused(pod: string, message: string): void;
  /** An agent started on `node`, and the runtime admitted it. */
  started(node: string): void;
  admitted(node: string): void;
}

/** The agents' one actor system and ws client; each agent is one connection of it. */
export class InProcessAgents {
  private readonly system = startActorSystem({ name: 'bench-agents' });
  private readonly remoting = new Remoting({ name: 'bench-agents' });
  private readonly byPeer = new Map<Origin['peer'], InProcessAgent>();

  constructor(private readonly options: InProcessAgentOptions) {
    const inbox = spawnActor<undefined, { msg: AgentMsg; peer: Origin['peer'] }>(this.system, {
      name: 'agents',
      initialState: () => undefined,
      supervision: 'resume',
      receive: (state, { msg, peer }) => {
        this.byPeer.get(peer)?.handle(msg);
        return state;
      },
    });
    this.remoting.expose(AGENT_PATH, inbox, { schema: AgentWire, withOrigin: (msg, origin) => ({ msg, peer: origin.peer }) });
  }

  /** Starts an in-process agent for each agent pod (a DaemonSet's pod running the node-agent), a light one for any other. */
  readonly launcher: PodAgentLauncher = (context) => {
    const metadata = context.pod.metadata as { namespace?: string; ownerReferences?: unknown } | undefined;
    if (metadata?.namespace !== 'lzy-agents' || metadata.ownerReferences === undefined) return lightAgents(context);
    const peer = this.remoting.connect(this.options.serverUrl(), { auth: kubeCredential(this.options.token(context)), whileDisconnected: 'queue' });
    const agent = new InProcessAgent(peer, this.options, () => this.byPeer.delete(peer));
    this.byPeer.set(peer, agent);
    const pod = String((context.pod.metadata as { name?: string }).name);
    const node = String((context.node.metadata as { name?: string }).name);
    this.options.started(node);
    peer.ready.then(
      () => {
        this.options.admitted(node);
        agent.register();
      },
      (error: Error) => {
        if (agent.stopped) return;
        this.options.refused(pod, error.message);
        void agent.stop();
        context.onExit(3);
      },
    );
    return agent;
  };

  async close(): Promise<void> {
    await Promise.all([...this.byPeer.values()].map((agent) => agent.stop()));
    await this.remoting.close();
    this.system.stop();
  }
}

/** One agent: a connection to the runtime, registered with the pool's slots. */
class InProcessAgent implements PodAgent {
  stopped = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly nodes: ActorRef<NodesWireMsg>;

  constructor(
    private readonly peer: Peer,
    private readonly options: InProcessAgentOptions,
    private readonly forget: () => void,
  ) {
    this.nodes = peer.ref<NodesWireMsg>(NODES_PATH);
  }

  register(): void {
    if (this.stopped) return;
    this.send({ type: 'register', slots: this.options.slots, pid: process.pid });
    this.heartbeat = setInterval(() => this.send({ type: 'heartbeat', running: [] }), this.options.heartbeatMs);
  }

  handle(msg: AgentMsg): void {
    switch (msg.type) {
      case 'run': {
        const finished = msg.attempts.map((attempt) => {
          const [result] = attempt.args;
          return result
            ? { attemptId: attempt.attemptId, outcome: { ok: true as const, result }, runMs: 0 }
            : { attemptId: attempt.attemptId, outcome: { ok: false as const, failure: { code: 'BAD_OP', name: 'Error', message: 'the bench ops take one argument', retryable: false } } };
        });
        return this.send({ type: 'report', logs: [], finished });
      }
      case 'cancel':
      case 'leased':
        // Its ops end at once, and it leaves the tenant check to the real agent: the bench measures the lease path.
        return;
      case 'shutdown':
        // A real agent exits and its pod goes with its node; this one just closes its connection.
        return void this.stop();
    }
  }

  private send(message: NodesWireMsg): void {
    try {
      tell(this.nodes, message);
    } catch {
      // The connection is closed: the node is being released.
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.forget();
    await this.peer.close();
  }
}
