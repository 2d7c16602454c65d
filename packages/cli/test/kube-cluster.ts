// The Kubernetes tests' cluster: the simulator with real agents and deploy/'s namespaces and
// node-agent DaemonSet, and `lzy server --kubeconfig` with a pool of kind kubernetes on it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, loadAllYaml, type KubernetesObject, type V1Node } from '@kubernetes/client-node';
import { startKubeSim, type KubeSim, type ServiceTarget } from '@lzy/kube-sim';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { startServer, tempDir, waitUntil, type Server, type Teardown } from './harness.js';

const deploy = new URL('../../../../deploy/', import.meta.url);
/** The runtime's one pool: the simulator's nodes labelled `lzy.dev/pool=cpu`. */
/** Waits for a cluster step (a lease, a release, a Node registered again): it goes through several processes, and a loaded machine may take a while. */
export function settle<T>(condition: () => T | Promise<T>, what: string): Promise<NonNullable<T>> {
  return waitUntil(condition, what, 90_000);
}

export const POOL = { name: 'cpu', kind: 'kubernetes', slots: 4, cpu: 2, memoryMb: 4096, maxNodes: 10, idleTimeoutMs: 300 };

/** A simulated cluster, its kubeconfig and a client of it, and where its agents reach the runtime. */
export interface Cluster {
  sim: KubeSim;
  kubeconfig: string;
  config: KubeConfig;
  core: CoreV1Api;
  /** Where the agents the simulator starts find `lzy-runtime.lzy-system`: set when a runtime listens. */
  services: ServiceTarget[];
  /** The port of the last runtime started on the cluster: a restart listens there again, so running agents find it. */
  runtimePort: number | undefined;
}

/**
 * A simulated cluster with real agents and deploy/'s namespaces and node-agent DaemonSet, whose
 * agents reach the runtime `startRuntime` starts (agents start only once a node is leased, so
 * its address is known by then; a port picked beforehand could be taken meanwhile).
 */
export async function startCluster(t: Teardown, pools: Record<string, number>, options: { reRegister?: boolean } = {}): Promise<Cluster> {
  const kubeconfig = join(tempDir(t), 'kubeconfig');
  const services: ServiceTarget[] = [];
  const sim = await startKubeSim({
    pools,
    realAgents: true,
    kubeconfigPath: kubeconfig,
    services,
    deletedNodes: options.reRegister ? 're-register' : 'terminate',
  });
  t.teardown(() => sim.stop());
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const objects = config.makeApiClient(KubernetesObjectApi);
  for (const file of ['00-namespaces.yaml', 'node-agent.yaml']) {
    for (const object of loadAllYaml(readFileSync(new URL(file, deploy), 'utf8')) as KubernetesObject[]) await objects.create(object);
  }
  return { sim, kubeconfig, config, core: config.makeApiClient(CoreV1Api), services, runtimePort: undefined };
}

/** `lzy server --kubeconfig` on `cluster`, with its one kubernetes pool (`POOL`, or `pool`). */
export async function startRuntime(t: Teardown, cluster: Cluster, dataDir?: string, pool: typeof POOL = POOL): Promise<Server> {
  const server = await startServer(t, { port: cluster.runtimePort ?? 0, pools: [pool], args: ['--kubeconfig', cluster.kubeconfig], ...(dataDir ? { dataDir } : {}) });
  cluster.runtimePort = server.port;
  cluster.services.splice(0, cluster.services.length, { name: 'lzy-runtime', namespace: 'lzy-system', address: `127.0.0.1:${server.port}` });
  return server;
}

/** A client of `server` as `tenant`. */
export async function client(t: Teardown, server: Server, tenant: string): Promise<Lzy> {
  const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const token = await admin.issueToken(tenant);
  await admin.close();
  const lzy = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => lzy.close());
  return lzy;
}

export async function nodes(cluster: Cluster): Promise<V1Node[]> {
  return (await cluster.core.listNode()).items;
}

export async function nodeNamed(cluster: Cluster, name: string): Promise<V1Node | undefined> {
  return (await nodes(cluster)).find((node) => node.metadata?.name === name);
}

/** The machine under a Node object. */
export const machineOf = (node: V1Node | undefined) => node?.status?.nodeInfo?.systemUUID;
