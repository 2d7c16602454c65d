// The simulator's controllers: DaemonSet placement, the provisioner's machines, the kubelet's pod lifecycle on a manual clock, and TokenReview.
import t from 'tap';
import { ManualClock } from '../src/index.js';
import { daemonSetKind, namespaceKind, nodeKind, podKind } from '../src/kinds/index.js';
import type { JsonObject } from '../src/json.js';
import { alive, nodeAgentPids, startRuntimeStandIn, startSim, waitUntil } from './harness.js';

const AGENTS_NS = 'lzy-agents';

function daemonSet(container: JsonObject = { name: 'agent', image: 'lzy/node-agent:0.1.0' }): JsonObject {
  return {
    metadata: { name: 'agents', namespace: AGENTS_NS },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: { nodeSelector: { 'lzy.dev/leased': 'true' }, tolerations: [{ key: 'lzy.dev/tenant', operator: 'Exists' }], containers: [container] },
      },
    },
  };
}

type Sim = Awaited<ReturnType<typeof startSim>>;

function podsOn(sim: Sim, node: string): JsonObject[] {
  return sim.store.list(podKind, AGENTS_NS).items.filter((pod) => (pod.spec as JsonObject).nodeName === node && (pod.metadata as JsonObject).deletionTimestamp === undefined);
}

function nodeNames(sim: Sim): string[] {
  return sim.store.list(nodeKind, undefined).items.map((node) => String((node.metadata as JsonObject).name));
}

function patchNode(sim: Sim, name: string, change: (node: JsonObject) => void): void {
  const node = sim.store.get(nodeKind, undefined, name);
  change(node);
  sim.store.update(nodeKind, undefined, name, node);
}

t.test('a DaemonSet runs one pod on each selected node it tolerates, and its pod leaves a node that stops matching', async (t) => {
  const sim = await startSim(t, { pools: { cpu: 3 } });
  sim.store.create(namespaceKind, undefined, { metadata: { name: AGENTS_NS } });
  sim.store.create(daemonSetKind, AGENTS_NS, daemonSet());
  const [leased, untolerated, plain] = nodeNames(sim) as [string, string, string];
  patchNode(sim, leased, (node) => {
    (node.metadata as JsonObject).labels = { ...((node.metadata as JsonObject).labels as JsonObject), 'lzy.dev/leased': 'true' };
    node.spec = { ...(node.spec as JsonObject), taints: [{ key: 'lzy.dev/tenant', value: 'a', effect: 'NoExecute' }] };
  });
  patchNode(sim, untolerated, (node) => {
    (node.metadata as JsonObject).labels = { ...((node.metadata as JsonObject).labels as JsonObject), 'lzy.dev/leased': 'true' };
    node.spec = { ...(node.spec as JsonObject), taints: [{ key: 'other', value: 'x', effect: 'NoSchedule' }] };
  });
  await waitUntil(() => podsOn(sim, leased).length === 1, 'the agent pod on the leased node');
  const pod = podsOn(sim, leased)[0]!;
  t.match((pod.metadata as JsonObject).ownerReferences, [{ kind: 'DaemonSet', name: 'agents', controller: true }]);
  t.equal(podsOn(sim, untolerated).length, 0, 'no pod where a taint is not tolerated');
  t.equal(podsOn(sim, plain).length, 0, 'no pod where the nodeSelector does not match');
  await waitUntil(() => (sim.store.get(daemonSetKind, AGENTS_NS, 'agents').status as JsonObject).numberReady === 1, 'the DaemonSet status');

  patchNode(sim, leased, (node) => {
    node.spec = { ...(node.spec as JsonObject), taints: [{ key: 'evict', value: 'now', effect: 'NoExecute' }] };
  });
  await waitUntil(() => podsOn(sim, leased).length === 0 && sim.store.list(podKind, AGENTS_NS).items.length === 0, 'the pod to leave the node with an untolerated NoExecute taint');
});

t.test('the provisioner keeps pools at size with fresh machines, and in re-register mode a deleted Node comes back clean until retired', async (t) => {
  const sim = await startSim(t, { pools: { cpu: 2 }, deletedNodes: 're-register' });
  const [first] = nodeNames(sim) as [string];
  const machine = sim.machines().find((m) => m.nodeName === first)!;
  patchNode(sim, first, (node) => {
    (node.metadata as JsonObject).labels = { ...((node.metadata as JsonObject).labels as JsonObject), 'lzy.dev/tenant': 'a' };
    node.spec = { ...(node.spec as JsonObject), taints: [{ key: 'lzy.dev/tenant', value: 'a', effect: 'NoSchedule' }] };
  });
  sim.store.delete(nodeKind, undefined, first);
  await waitUntil(() => sim.store.find(nodeKind, undefined, first) !== undefined, 'the machine to re-register its Node');
  const back = sim.store.get(nodeKind, undefined, first);
  t.match(back, { spec: { providerID: machine.providerID }, status: { nodeInfo: { machineID: machine.machineID, systemUUID: machine.systemUUID } } });
  t.notOk((back.spec as JsonObject).taints, 'no taints');
  t.notOk(((back.metadata as JsonObject).labels as JsonObject)['lzy.dev/tenant'], 'fresh labels');

  patchNode(sim, first, (node) => {
    (node.metadata as JsonObject).labels = { ...((node.metadata as JsonObject).labels as JsonObject), 'lzy.dev/retired': 'true' };
  });
  await waitUntil(() => !nodeNames(sim).includes(first) && nodeNames(sim).length === 2, 'the retired machine to end and a fresh one to join');
  t.equal(sim.machines().filter((m) => m.running).length, 2);
  t.notOk(sim.machines().some((m) => m.running && m.machineID === machine.machineID), 'the retired machine is not running');
});

t.test('on the kubelet’s clock a pod goes Pending, Running after the start delay, and on delete terminating, then gone', async (t) => {
  const clock = new ManualClock();
  const sim = await startSim(t, { pools: { cpu: 1 }, podStartMs: 1000, clock });
  const [node] = nodeNames(sim) as [string];
  sim.store.create(podKind, 'default', { metadata: { name: 'p' }, spec: { nodeName: node, containers: [{ name: 'c', image: 'x:1' }] } });
  const phase = () => (sim.store.find(podKind, 'default', 'p')?.status as JsonObject | undefined)?.phase;
  await new Promise((resolve) => setImmediate(resolve));
  clock.advance(999);
  t.equal(phase(), 'Pending');
  clock.advance(1);
  t.equal(phase(), 'Running');
  const deleting = sim.store.delete(podKind, 'default', 'p');
  t.ok((deleting.metadata as JsonObject).deletionTimestamp, 'graceful deletion marks the pod first');
  await waitUntil(() => sim.store.find(podKind, 'default', 'p') === undefined, 'the kubelet to remove the pod');

  sim.setNodeReady(node, false);
  const ready = () => ((sim.store.get(nodeKind, undefined, node).status as JsonObject).conditions as JsonObject[]).find((c) => c.type === 'Ready')?.status;
  t.equal(ready(), 'False');
  t.match(sim.store.get(nodeKind, undefined, node).spec, { taints: [{ key: 'node.kubernetes.io/not-ready' }, { key: 'node.kubernetes.io/not-ready' }] });
  sim.setNodeReady(node, true);
  t.equal(ready(), 'True');
});

t.test('a pod held by a finalizer is removed once its node is deleted, as the pod garbage collector does', async (t) => {
  const sim = await startSim(t, { pools: { cpu: 1 } });
  const [node] = nodeNames(sim) as [string];
  sim.store.create(podKind, 'default', { metadata: { name: 'held', finalizers: ['example.com/keep'] }, spec: { nodeName: node, containers: [{ name: 'c', image: 'x:1' }] } });
  await waitUntil(() => (sim.store.find(podKind, 'default', 'held')?.status as JsonObject | undefined)?.phase === 'Running', 'the pod to run');
  sim.store.delete(podKind, 'default', 'held');
  await waitUntil(() => (sim.store.find(podKind, 'default', 'held')?.metadata as JsonObject | undefined)?.deletionTimestamp !== undefined, 'the pod to be terminating');
  t.ok(sim.store.find(podKind, 'default', 'held'), 'its finalizer keeps the deleted pod while its node is there');
  sim.store.delete(nodeKind, undefined, node);
  await waitUntil(() => sim.store.find(podKind, 'default', 'held') === undefined, 'the orphaned pod to be removed');
});

t.test('TokenReview accepts a pod’s projected token for its audience and refuses another audience or a deleted pod', async (t) => {
  const sim = await startSim(t, { pools: { cpu: 1 } });
  const [node] = nodeNames(sim) as [string];
  const pod = sim.store.create(podKind, 'default', { metadata: { name: 'p' }, spec: { nodeName: node, containers: [{ name: 'c', image: 'x:1' }] } });
  const token = sim.tokens.issue(
    { namespace: 'default', serviceAccount: { name: 'default', uid: '' }, pod: { name: 'p', uid: String((pod.metadata as JsonObject).uid) }, node: { name: node, uid: '' } },
    'lzy',
  );
  const review = async (audiences: string[]) => {
    const response = await fetch(`${sim.url}/apis/authentication.k8s.io/v1/tokenreviews`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } }),
    });
    t.equal(response.status, 201);
    return ((await response.json()) as { status: { authenticated: boolean; user: { username?: string; extra?: Record<string, string[]> } } }).status;
  };
  const accepted = await review(['lzy']);
  t.equal(accepted.authenticated, true);
  t.equal(accepted.user.username, 'system:serviceaccount:default:default');
  t.same(accepted.user.extra?.['authentication.kubernetes.io/node-name'], [node]);
  t.equal((await review(['other'])).authenticated, false, 'another audience is refused');
  sim.store.delete(podKind, 'default', 'p', { gracePeriodSeconds: 0 });
  t.equal((await review(['lzy'])).authenticated, false, 'the token of a deleted pod is refused');
});

t.test('with real agents a node-agent process starts for the agent pod, reaching the runtime through its Service name, and stops with the pod when its node stops matching', async (t) => {
  const { port, dials: connections } = await startRuntimeStandIn(t);
  const sim = await startSim(t, { pools: { cpu: 1 }, realAgents: true, services: [{ name: 'lzy-runtime', namespace: 'lzy-system', address: `127.0.0.1:${port}` }] });
  sim.store.create(namespaceKind, undefined, { metadata: { name: AGENTS_NS } });
  const agents = daemonSet({ name: 'agent', image: 'lzy/node-agent:0.1.0', args: ['--server', 'ws://lzy-runtime.lzy-system.svc:7000', '--token', 'x', '--slots', '1'] });
  // A short grace period: the kubelet kills the process 1 s after asking it to stop.
  (((agents.spec as JsonObject).template as JsonObject).spec as JsonObject).terminationGracePeriodSeconds = 1;
  sim.store.create(daemonSetKind, AGENTS_NS, agents);
  const [node] = nodeNames(sim) as [string];
  patchNode(sim, node, (n) => {
    (n.metadata as JsonObject).labels = { ...((n.metadata as JsonObject).labels as JsonObject), 'lzy.dev/leased': 'true' };
  });
  await waitUntil(() => connections.length > 0, 'the agent process to dial the runtime');
  const agentPids = nodeAgentPids(process.pid);
  t.equal(agentPids.length, 1, 'one agent process');
  // The node stops matching the DaemonSet: its pod is deleted, and the kubelet stops the process.
  patchNode(sim, node, (n) => {
    (n.metadata as JsonObject).labels = { ...((n.metadata as JsonObject).labels as JsonObject), 'lzy.dev/leased': 'false' };
  });
  await waitUntil(() => !agentPids.some(alive), 'the agent process to stop with its pod');
  await waitUntil(() => connections.every((c) => c.closed), 'its connection to close');
  await waitUntil(() => sim.store.list(podKind, AGENTS_NS).items.length === 0, 'the pod to go');
});
