// Network isolation on Kubernetes: `lzy server --kubeconfig` keeps a NetworkPolicy per tenant in
// lzy-agents, written before the tenant's agent pod is labelled (and so leaves deploy/'s
// default-deny policy), and removed when the tenant has no lease left. The simulator stores and
// validates NetworkPolicies but routes no packets: these tests check the policies the runtime
// writes and when, not that a network plugin enforces them.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { heldOnNode } from './fixtures/kube-ops.js';
import { runs, tempDir, type Teardown } from './harness.js';
import { client, nodeNamed, startCluster, startRuntime, type Cluster, settle } from './kube-cluster.js';

/** A watched object as the API server sent it (plain JSON, field names as on the wire). */
interface Seen {
  readonly type: string;
  readonly resourceVersion: number;
  readonly labels: Record<string, string>;
  readonly object: { metadata?: { name?: string; labels?: Record<string, string>; resourceVersion?: string }; spec?: unknown };
}

/**
 * Every change of `path` from now on, in the cluster's one resourceVersion order: the simulator,
 * like etcd, numbers every write of every kind from one counter, so two kinds' writes compare.
 */
async function watchAll(t: Teardown, cluster: Cluster, path: string): Promise<Seen[]> {
  const seen: Seen[] = [];
  const request = await new Watch(cluster.config).watch(
    path,
    {},
    (type: string, object: Seen['object']) =>
      seen.push({ type, resourceVersion: Number(object.metadata?.resourceVersion), labels: object.metadata?.labels ?? {}, object }),
    () => {},
  );
  t.teardown(() => request.abort());
  return seen;
}

const AGENTS = '/api/v1/namespaces/lzy-agents/pods';
const POLICIES = '/apis/networking.k8s.io/v1/namespaces/lzy-agents/networkpolicies';

/** The egress rules deploy/'s default-deny policy gives agents that have not joined: the runtime and DNS. */
function defaultDenyEgress(): unknown[] {
  const file = new URL('../../../../deploy/node-agent-network-policy.yaml', import.meta.url);
  const [policy] = parseAllDocuments(readFileSync(file, 'utf8')).map((document) => document.toJS() as { spec: { egress: unknown[] } });
  return policy!.spec.egress;
}

const tenantPods = (tenant: string) => ({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'lzy-node-agent', 'lzy.dev/tenant': tenant } } });
const runtimePods = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'lzy-system' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'lzy-runtime' } } };

t.test("each tenant's agents are fenced by its own NetworkPolicy before they carry the tenant, until its lease ends", async (t) => {
  const cluster = await startCluster(t, { cpu: 2 });
  const pods = await watchAll(t, cluster, AGENTS);
  const policies = await watchAll(t, cluster, POLICIES);
  const server = await startRuntime(t, cluster);
  const dir = tempDir(t);
  const held = (tenant: string) => client(t, server, tenant).then((lzy) => lzy.workflow(tenant, async () => heldOnNode(dir, tenant)));
  const alice = held('alice');
  const bob = held('bob');
  await settle(() => runs(dir, 'alice') === 1 && runs(dir, 'bob') === 1, "both tenants' ops to start on their leased nodes");

  for (const tenant of ['alice', 'bob']) {
    const labelled = await settle(() => pods.find((pod) => pod.labels['lzy.dev/tenant'] === tenant), `${tenant}'s agent pod to carry its tenant`);
    const written = policies.find((policy) => policy.type === 'ADDED' && policy.labels['lzy.dev/tenant'] === tenant);
    t.ok(written, `${tenant} has a NetworkPolicy`);
    t.ok(written!.resourceVersion < labelled.resourceVersion, `${tenant}'s policy was written (at ${written!.resourceVersion}) before its pod was labelled (at ${labelled.resourceVersion})`);
    t.same(
      written!.object.spec,
      {
        podSelector: tenantPods(tenant).podSelector,
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [tenantPods(tenant), runtimePods] }],
        egress: [{ to: [tenantPods(tenant)] }, ...defaultDenyEgress()],
      },
      `${tenant}'s agents take traffic from its agents and the runtime only, and reach only them, the runtime (which serves storage) and DNS`,
    );
  }

  // Alice's agent pod outlives its eviction for a while, as a pod still terminating does: a finalizer holds it.
  const alicesPod = pods.find((pod) => pod.labels['lzy.dev/tenant'] === 'alice')!.object.metadata!.name!;
  const linger = (finalizers: string[]) =>
    cluster.core.patchNamespacedPod({ name: alicesPod, namespace: 'lzy-agents', body: { metadata: { finalizers } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await linger(['lzy.dev/test-linger']);
  writeFileSync(join(dir, 'alice.go'), '');
  const alicesNode = await alice;
  await settle(async () => (await nodeNamed(cluster, alicesNode)) === undefined, "alice's idle node to be released and deleted");
  // Then it goes with the node, as the pod garbage collector force-deletes the pods of a node that is gone.
  await settle(
    () => policies.some((policy) => policy.type === 'DELETED' && policy.labels['lzy.dev/tenant'] === 'alice'),
    "alice's policy to go with her last lease",
  );
  const alicesPodGone = pods.find((pod) => pod.type === 'DELETED' && pod.labels['lzy.dev/tenant'] === 'alice');
  const alicesPolicyGone = policies.find((policy) => policy.type === 'DELETED' && policy.labels['lzy.dev/tenant'] === 'alice');
  t.ok(alicesPodGone && alicesPodGone.resourceVersion < alicesPolicyGone!.resourceVersion, "alice's policy went after her agent pod");
  t.notOk(
    policies.some((policy) => policy.type === 'DELETED' && policy.labels['lzy.dev/tenant'] === 'bob'),
    "bob's policy stays while bob holds a lease",
  );
  writeFileSync(join(dir, 'bob.go'), '');
  await bob;
});

t.test('a NetworkPolicy left by a runtime killed mid-lease is removed when it starts again', async (t) => {
  const cluster = await startCluster(t, { cpu: 2 });
  const policies = await watchAll(t, cluster, POLICIES);
  const dataDir = tempDir(t);
  const server = await startRuntime(t, cluster, dataDir);
  const dir = tempDir(t);
  void client(t, server, 'alice').then((lzy) => lzy.workflow('cut', async () => heldOnNode(dir, 'cut')).catch(() => {}));
  await settle(() => runs(dir, 'cut') === 1, 'the op to start on a leased node');
  await settle(() => policies.some((policy) => policy.type === 'ADDED'), "alice's policy to be written");
  server.child.process.kill('SIGKILL');
  await server.child.exited;

  // The restart releases the node, and its removal of stale policies does not wait for the
  // resumed workflow (which leases a node for alice again).
  await startRuntime(t, cluster, dataDir);
  await settle(() => policies.some((policy) => policy.type === 'DELETED' && policy.labels['lzy.dev/tenant'] === 'alice'), "the policy of alice, who had no lease at the start, to be removed");
  t.pass("the killed runtime's policy was removed");
});
