// The whole simulated cluster in one call: store, API server, and the controllers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lightAgents, type PodAgentLauncher } from './agents/pod-agent.js';
import { realAgents } from './agents/real-agent.js';
import type { ServiceTarget } from './agents/service-rewrite.js';
import { startApiServer } from './api-server.js';
import { systemClock, type Clock } from './clock.js';
import { startDaemonSetController } from './controllers/daemonset.js';
import { startGarbageCollector } from './controllers/garbage-collector.js';
import { KubeletSimulator } from './controllers/kubelet.js';
import { NodeProvisioner, type DeletedNodeMode, type Machine } from './controllers/provisioner.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ObjectStore } from './store.js';
import { TokenIssuer } from './token-issuer.js';
import { WatchHub } from './watch-hub.js';
import { WatchStreams } from './watch-stream.js';

/** How to start a simulated cluster; every field has a default. */
export interface KubeSimOptions {
  /** 127.0.0.1 port; 0 (default) picks a free one. */
  port?: number;
  /** Where to write a kubeconfig once the server listens. */
  kubeconfigPath?: string;
  /** Pool name → node count. */
  pools?: Record<string, number>;
  /** Start a real node-agent process for each Running pod whose container runs the node-agent. */
  realAgents?: boolean;
  /** Service DNS names rewritten for real agents' processes. */
  services?: readonly ServiceTarget[];
  /** Bound pod → Running delay (default 0). */
  podStartMs?: number;
  /** Node Lease renewal interval (default 10 s). */
  heartbeatMs?: number;
  /** What a deleted Node of a running machine does (default 'terminate', as with Karpenter). */
  deletedNodes?: DeletedNodeMode;
  /** Changes kept for watches to resume from (default 10,000); older ones answer 410 Expired. */
  watchHistory?: number;
  /** Bookmark interval of watches that allow them (default 15 s). */
  bookmarkMs?: number;
  /** Longest watch (default 1800 s), as a server's --min-request-timeout. */
  maxWatchSeconds?: number;
  /** Node capacity (default 4 CPUs, 8192 MiB). */
  nodeCpu?: number;
  nodeMemoryMb?: number;
  clock?: Clock;
  /** Runs pods' workloads instead of the light or real agents (e.g. in-process agents of a bench). */
  agents?: PodAgentLauncher;
  /** The node-agent's main script (default: @lzy/node-agent's). */
  agentMain?: string;
}

/** A running simulated cluster. */
export interface KubeSim {
  url: string;
  port: number;
  kubeconfigPath?: string;
  store: ObjectStore;
  tokens: TokenIssuer;
  /** Sets a node's Ready condition (and not-ready taints). */
  setNodeReady(name: string, ready: boolean): void;
  /** Sets a pool's size. */
  setPoolSize(pool: string, size: number): void;
  /** Switches what deleted Nodes of running machines do. */
  setDeletedNodeMode(mode: DeletedNodeMode): void;
  /** Every machine the provisioner started. */
  machines(): Machine[];
  /** Cuts every open watch connection, as a network drop would. */
  dropWatches(): void;
  /** Ends every open watch cleanly, as at a watch timeout: clients resume from their last resourceVersion. */
  endWatches(): void;
  /** How many watches are open. */
  openWatches(): number;
  /** Forgets the watch history up to now: a watch resuming from before gets 410 Expired. */
  compactHistory(): void;
  /** Stops the server, the controllers and every process started. */
  stop(): Promise<void>;
}

/** The default node-agent main script, next to @lzy/node-agent's entry point. */
function defaultAgentMain(): string {
  return new URL('./main.js', import.meta.resolve('@lzy/node-agent')).pathname;
}

/** Starts a simulated cluster. */
export async function startKubeSim(options: KubeSimOptions = {}): Promise<KubeSim> {
  const clock = options.clock ?? systemClock;
  const hub = new WatchHub(options.watchHistory ?? 10_000);
  const store = new ObjectStore(hub, clock);
  const tokens = new TokenIssuer(clock);
  const watches = new WatchStreams(store, clock, { bookmarkMs: options.bookmarkMs ?? 15_000, maxTimeoutSeconds: options.maxWatchSeconds ?? 1800 });
  const workDir = mkdtempSync(join(tmpdir(), 'lzy-kube-sim-'));
  const launcher =
    options.agents ??
    (options.realAgents ? realAgents({ store, tokens, services: options.services ?? [], agentMain: options.agentMain ?? defaultAgentMain(), workDir }) : lightAgents);
  const garbageCollector = startGarbageCollector(store);
  const daemonSets = startDaemonSetController(store);
  const provisioner = new NodeProvisioner(store, {
    pools: options.pools ?? {},
    deletedNodes: options.deletedNodes ?? 'terminate',
    cpu: options.nodeCpu ?? 4,
    memoryMb: options.nodeMemoryMb ?? 8192,
  });
  const kubelets = new KubeletSimulator(store, { clock, podStartMs: options.podStartMs ?? 0, heartbeatMs: options.heartbeatMs ?? 10_000, launcher });
  const server = await startApiServer({ store, tokens, watches }, options.port ?? 0);
  if (options.kubeconfigPath) writeKubeconfig(options.kubeconfigPath, server.url);
  return {
    url: server.url,
    port: server.port,
    ...(options.kubeconfigPath ? { kubeconfigPath: options.kubeconfigPath } : {}),
    store,
    tokens,
    setNodeReady: (name, ready) => kubelets.setNodeReady(name, ready),
    setPoolSize: (pool, size) => provisioner.setPoolSize(pool, size),
    setDeletedNodeMode: (mode) => provisioner.setDeletedNodeMode(mode),
    machines: () => provisioner.allMachines,
    dropWatches: () => watches.dropAll(),
    endWatches: () => watches.endAll(),
    openWatches: () => watches.count,
    compactHistory: () => hub.compact(store.resourceVersion),
    async stop() {
      provisioner.stop();
      daemonSets.stop();
      garbageCollector.stop();
      await kubelets.stop();
      await server.close();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
