// `lzy server --kubeconfig` with a pool of kind kubernetes, against the cluster simulator: the
// real client library in the runtime, the node-agent DaemonSet of deploy/, real node-agent processes.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, loadAllYaml, type KubernetesObject, type V1Node } from '@kubernetes/client-node';
import { Remoting } from '@lzy/actors';
import { startKubeSim, type KubeSim } from '@lzy/kube-sim';
import { kubeCredential } from '@lzy/node-agent/protocol';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { heldOnNode, whichNode } from './fixtures/kube-ops.js';
import { runs, startServer, tempDir, waitUntil, type Server, type Teardown } from './harness.js';

const deploy = new URL('../../../../deploy/', import.meta.url);
const POOL = { name: 'cpu', kind: 'kubernetes', slots: 4, cpu: 2, memoryMb: 4096, maxNodes: 10, idleTimeoutMs: 300 };

/** A port free right now, for a runtime whose address the simulator must know before it starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Cluster {
  sim: KubeSim;
  kubeconfig: string;
  core: CoreV1Api;
  port: number;
}

/** A simulated cluster with real agents and deploy/'s namespaces and node-agent DaemonSet, whose agents reach a runtime on `port`. */
async function startCluster(t: Teardown, pools: Record<string, number>, options: { reRegister?: boolean } = {}): Promise<Cluster> {
  const port = await freePort();
  const kubeconfig = join(tempDir(t), 'kubeconfig');
  const sim = await startKubeSim({
    pools,
    realAgents: true,
    kubeconfigPath: kubeconfig,
    services: [{ name: 'lzy-runtime', namespace: 'lzy-system', address: `127.0.0.1:${port}` }],
    deletedNodes: options.reRegister ? 're-register' : 'terminate',
  });
  t.teardown(() => sim.stop());
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const objects = config.makeApiClient(KubernetesObjectApi);
  for (const file of ['00-namespaces.yaml', 'node-agent.yaml']) {
    for (const object of loadAllYaml(readFileSync(new URL(file, deploy), 'utf8')) as KubernetesObject[]) await objects.create(object);
  }
  return { sim, kubeconfig, core: config.makeApiClient(CoreV1Api), port };
}

async function startRuntime(t: Teardown, cluster: Cluster, dataDir?: string): Promise<Server> {
  return startServer(t, { port: cluster.port, pools: [POOL], args: ['--kubeconfig', cluster.kubeconfig], ...(dataDir ? { dataDir } : {}) });
}

async function client(t: Teardown, server: Server, tenant: string): Promise<Lzy> {
  const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const token = await admin.issueToken(tenant);
  await admin.close();
  const lzy = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => lzy.close());
  return lzy;
}

async function nodes(cluster: Cluster): Promise<V1Node[]> {
  return (await cluster.core.listNode()).items;
}

async function nodeNamed(cluster: Cluster, name: string): Promise<V1Node | undefined> {
  return (await nodes(cluster)).find((node) => node.metadata?.name === name);
}

const machineOf = (node: V1Node | undefined) => node?.status?.nodeInfo?.systemUUID;

t.test('a tenant leases a cluster node, its op runs there, and the released node is deleted', async (t) => {
  const cluster = await startCluster(t, { cpu: 2 });
  const server = await startRuntime(t, cluster);
  const alice = await client(t, server, 'alice');
  const dir = tempDir(t);
  const run = alice.workflow('held', async () => heldOnNode(dir, 'held'));
  await waitUntil(() => runs(dir, 'held') === 1, 'the op to start on a leased node');

  const leased = (await nodes(cluster)).filter((node) => node.metadata?.labels?.['lzy.dev/tenant'] === 'alice');
  t.equal(leased.length, 1, 'one node is leased to the tenant');
  const node = leased[0]!;
  t.equal(node.metadata?.labels?.['lzy.dev/leased'], 'true');
  t.same(
    node.spec?.taints?.filter((taint) => taint.key === 'lzy.dev/tenant').map((taint) => `${taint.value}:${taint.effect}`),
    ['alice:NoSchedule', 'alice:NoExecute'],
    'tainted for the tenant',
  );
  const pods = await cluster.core.listNamespacedPod({ namespace: 'lzy-agents', fieldSelector: `spec.nodeName=${node.metadata?.name}` });
  await waitUntil(async () => {
    const pod = await cluster.core.readNamespacedPod({ name: pods.items[0]!.metadata!.name!, namespace: 'lzy-agents' });
    return pod.metadata?.labels?.['lzy.dev/tenant'] === 'alice';
  }, 'the joined agent pod to carry its tenant');

  writeFileSync(join(dir, 'held.go'), '');
  t.equal(await run, node.metadata?.name, 'the op ran on the leased node');
  await waitUntil(async () => (await nodeNamed(cluster, node.metadata!.name!)) === undefined, 'the idle node to be released and deleted');
  t.notOk(
    cluster.sim.machines().some((machine) => machine.systemUUID === machineOf(node) && machine.running),
    "the released node's machine ended with it",
  );
});
