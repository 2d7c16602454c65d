// `lzy server --kubeconfig` with a pool of kind kubernetes, against the cluster simulator: the
// real client library in the runtime, the node-agent DaemonSet of deploy/, real node-agent processes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { V1Node } from '@kubernetes/client-node';
import { Remoting } from '@lzy/actors';
import { kubeCredential } from '@lzy/node-agent/protocol';
import type { Lzy } from '@lzy/sdk';
import { heldOnNode, whichNode } from './fixtures/kube-ops.js';
import { runs, tempDir, type Server, type Teardown } from './harness.js';
import { client, machineOf, nodeNamed, nodes, startCluster, startRuntime, type Cluster, settle } from './kube-cluster.js';

/** A runtime on `cluster` where `tenant` runs an op held on its leased node until `<dir>/held.go` exists. */
async function heldOpOf(t: Teardown, cluster: Cluster, tenant: string): Promise<{ server: Server; dir: string; run: Promise<string> }> {
  const server = await startRuntime(t, cluster);
  const lzy = await client(t, server, tenant);
  const dir = tempDir(t);
  const run = lzy.workflow('held', async () => heldOnNode(dir, 'held'));
  await settle(() => runs(dir, 'held') === 1, 'the op to start on a leased node');
  return { server, dir, run };
}

/**
 * Runs one op of `lzy` held on its node, reads the node labelled for `tenant` while it runs (a node
 * is released a moment after its last op), lets the op go, and checks it ran on that node.
 */
async function nodeOfHeldOp(t: Test, cluster: Cluster, lzy: Lzy, tenant: string): Promise<V1Node | undefined> {
  const dir = tempDir(t);
  const run = lzy.workflow('held', async () => heldOnNode(dir, 'held'));
  await settle(() => runs(dir, 'held') === 1, `${tenant}'s op to start`);
  const node = (await nodes(cluster)).find((candidate) => candidate.metadata?.labels?.['lzy.dev/tenant'] === tenant);
  t.ok(node, `a node is labelled for ${tenant} while the op runs`);
  writeFileSync(join(dir, 'held.go'), '');
  t.equal(await run, node?.metadata?.name, 'the op ran on that node');
  return node;
}

t.test('a tenant leases a cluster node, its op runs there, and the released node is deleted', async (t) => {
  const cluster = await startCluster(t, { cpu: 2 });
  const { dir, run } = await heldOpOf(t, cluster, 'alice');

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
  await settle(async () => {
    const pod = await cluster.core.readNamespacedPod({ name: pods.items[0]!.metadata!.name!, namespace: 'lzy-agents' });
    return pod.metadata?.labels?.['lzy.dev/tenant'] === 'alice';
  }, 'the joined agent pod to carry its tenant');

  writeFileSync(join(dir, 'held.go'), '');
  t.equal(await run, node.metadata?.name, 'the op ran on the leased node');
  await settle(async () => (await nodeNamed(cluster, node.metadata!.name!)) === undefined, 'the idle node to be released and deleted');
  t.notOk(
    cluster.sim.machines().some((machine) => machine.systemUUID === machineOf(node) && machine.running),
    "the released node's machine ended with it",
  );
});

t.test("a released node's machine never serves another tenant, also when its Node registers again", async (t) => {
  const cluster = await startCluster(t, { cpu: 1 }, { reRegister: true });
  const server = await startRuntime(t, cluster);
  const alice = await client(t, server, 'alice');
  const alicesNode = await nodeOfHeldOp(t, cluster, alice, 'alice');
  // Its machine registers the Node again; the runtime retires it, and the provisioner ends a retired machine.
  await settle(
    () => cluster.sim.machines().some((machine) => machine.systemUUID === machineOf(alicesNode) && !machine.running),
    "the Node of alice's machine, registered again, to be retired",
  );
  const bob = await client(t, server, 'bob');
  const bobsNode = await nodeOfHeldOp(t, cluster, bob, 'bob');
  t.not(machineOf(bobsNode), machineOf(alicesNode), "bob's op ran on another machine than alice's");
});

t.test('an agent presenting the token of a pod not on a leased node, of another account or audience, is refused', async (t) => {
  const cluster = await startCluster(t, { cpu: 2 });
  const { server, dir, run } = await heldOpOf(t, cluster, 'alice');
  const all = await nodes(cluster);
  const leased = all.find((node) => node.metadata?.labels?.['lzy.dev/tenant'] === 'alice')!;
  const free = all.find((node) => node !== leased)!;
  const [agentPod] = (await cluster.core.listNamespacedPod({ namespace: 'lzy-agents', fieldSelector: `spec.nodeName=${leased.metadata?.name}` })).items;

  /** A token the cluster issues for a pod of `account` on `node` (the pod is made if it is not the agent's). */
  let forgers = 0;
  const tokenOf = async (node: V1Node, account: string, audience = 'lzy', namespace = 'lzy-agents') => {
    const name = `forger-${++forgers}`;
    const pod = await cluster.core.createNamespacedPod({
      namespace,
      body: { metadata: { name }, spec: { nodeName: node.metadata!.name!, serviceAccountName: account, containers: [{ name: 'x', image: 'busybox' }] } },
    });
    return cluster.sim.tokens.issue(
      { namespace, serviceAccount: { name: account, uid: '' }, pod: { name, uid: pod.metadata!.uid! }, node: { name: node.metadata!.name!, uid: node.metadata!.uid! } },
      audience,
    );
  };
  const refusal = async (token: string) => {
    const remoting = new Remoting();
    try {
      await remoting.connect(server.url, { auth: kubeCredential(token) }).ready;
      return 'admitted';
    } catch (error) {
      return (error as Error).message;
    } finally {
      await remoting.close();
    }
  };
  t.match(await refusal(await tokenOf(free, 'lzy-node-agent')), /is not leased by this runtime/, "an agent's pod on another node");
  t.match(await refusal(await tokenOf(leased, 'default')), /not the node-agents'/, "another account's pod on the leased node");
  t.match(await refusal(await tokenOf(leased, 'lzy-node-agent', 'https://kubernetes.default.svc')), /did not accept the token/, 'a token for another audience');
  const agentsOwn = cluster.sim.tokens.issue(
    {
      namespace: 'lzy-agents',
      serviceAccount: { name: 'lzy-node-agent', uid: '' },
      pod: { name: agentPod!.metadata!.name!, uid: agentPod!.metadata!.uid! },
      node: { name: leased.metadata!.name!, uid: leased.metadata!.uid! },
    },
    'lzy',
  );
  t.match(await refusal(agentsOwn), /has joined already/, "a second agent with the joined agent's own pod");
  writeFileSync(join(dir, 'held.go'), '');
  t.equal(await run, leased.metadata?.name, 'the real agent kept serving its tenant');
});

t.test('an op on a node that goes NotReady runs again on another node, also after the watch dropped and expired', async (t) => {
  const cluster = await startCluster(t, { cpu: 2 });
  const server = await startRuntime(t, cluster);
  const alice = await client(t, server, 'alice');
  await settle(() => cluster.sim.openWatches() === 2, 'the runtime to watch nodes and agent pods');
  // The informers come back after a dropped connection, and re-list after a 410.
  cluster.sim.dropWatches();
  await settle(() => cluster.sim.openWatches() === 2, 'the runtime to watch again');
  cluster.sim.compactHistory();
  cluster.sim.endWatches();
  await settle(() => cluster.sim.openWatches() === 2, 'the runtime to watch again after a re-list');

  const dir = tempDir(t);
  const run = alice.workflow('held', async () => heldOnNode(dir, 'held'));
  await settle(() => runs(dir, 'held') === 1, 'the op to start');
  const first = (await nodes(cluster)).find((node) => node.metadata?.labels?.['lzy.dev/tenant'] === 'alice')!;
  cluster.sim.setNodeReady(first.metadata!.name!, false);
  await settle(() => runs(dir, 'held') === 2, 'the op to run again');
  writeFileSync(join(dir, 'held.go'), '');
  const ranOn = await run;
  t.not(ranOn, first.metadata?.name, 'it finished on another node');
  await settle(async () => (await nodeNamed(cluster, first.metadata!.name!)) === undefined, 'the lost node to be deleted');
});

t.test('a runtime killed while leasing leaves no node leased after its restart, and gives none to two tenants', async (t) => {
  const cluster = await startCluster(t, { cpu: 2 });
  const dataDir = tempDir(t);
  const server = await startRuntime(t, cluster, dataDir);
  const alice = await client(t, server, 'alice');
  void alice.workflow('cut', async () => whichNode()).catch(() => {});
  await settle(async () => (await nodes(cluster)).some((node) => node.metadata?.labels?.['lzy.dev/tenant'] === 'alice'), 'a node to be labelled for alice');
  const alicesNode = (await nodes(cluster)).find((node) => node.metadata?.labels?.['lzy.dev/tenant'] === 'alice');
  const alicesMachine = machineOf(alicesNode);
  server.child.process.kill('SIGKILL');
  await server.child.exited;

  // The restart releases alice's node before it serves; her resumed workflow may lease another.
  const again = await startRuntime(t, cluster, dataDir);
  const afterRestart = await nodeNamed(cluster, alicesNode!.metadata!.name!);
  t.equal(afterRestart?.metadata?.labels?.['lzy.dev/tenant'], undefined, "the restart released alice's node");
  const bob = await client(t, again, 'bob');
  const bobsNode = await nodeOfHeldOp(t, cluster, bob, 'bob');
  t.not(machineOf(bobsNode), alicesMachine, "bob's node is not on alice's machine");
});
