// The project's deploy/ manifests, applied with the real kubectl to a fresh simulator: what lands, a re-apply, -k, and the agent's placement.
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { KUBECTL, kubectl, startSim, waitUntil } from './harness.js';

const DEPLOY = fileURLToPath(new URL('../../../../deploy/', import.meta.url));
const skip = KUBECTL ? false : 'no kubectl binary on this machine (install Debian’s kubernetes-client)';

type Sim = Awaited<ReturnType<typeof startSim>>;

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion: string;
  generation?: number;
}

interface Obj {
  metadata: Meta;
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

async function getJson(sim: Sim, args: string[]): Promise<Obj> {
  return JSON.parse(await kubectl(sim, ['get', ...args, '-o', 'json'])) as Obj;
}

/** The lines of a kubectl apply output, as `kind/name verb`, sorted. */
function applied(output: string): string[] {
  return output.trim().split('\n').sort();
}

t.test('kubectl apply -f deploy/ installs namespaces, runtime, agents, RBAC and policies, and a second apply changes nothing', { skip }, async (t) => {
  const sim = await startSim(t, { pools: { cpu: 2 } });
  const first = applied(await kubectl(sim, ['apply', '-f', DEPLOY]));
  t.ok(first.length >= 14, 'every object of deploy/ is applied');
  t.ok(first.every((line) => line.endsWith(' created')), `all created: ${first.join('; ')}`);

  const namespaces = (await kubectl(sim, ['get', 'namespaces', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(' ');
  t.same(namespaces.filter((name) => name.startsWith('lzy-')).sort(), ['lzy-agents', 'lzy-system']);
  const service = await getJson(sim, ['service', 'lzy-runtime', '-n', 'lzy-system']);
  t.match(service.spec, { selector: { 'app.kubernetes.io/name': 'lzy-runtime' }, ports: [{ name: 'gateway', port: 8080 }] }, 'the runtime Service in lzy-system');

  const agents = await getJson(sim, ['daemonset', 'lzy-node-agent', '-n', 'lzy-agents']);
  t.match(agents.spec, {
    template: {
      spec: {
        serviceAccountName: 'lzy-node-agent',
        nodeSelector: { 'lzy.dev/leased': 'true' },
        tolerations: [{ key: 'lzy.dev/tenant', effect: 'NoSchedule' }, { key: 'lzy.dev/tenant', effect: 'NoExecute' }],
        volumes: [{ name: 'lzy-token', projected: { sources: [{ serviceAccountToken: { audience: 'lzy' } }] } }],
      },
    },
  }, 'the agent DaemonSet in lzy-agents, on leased nodes, with its projected token');

  const runtime = await getJson(sim, ['statefulset', 'lzy-runtime', '-n', 'lzy-system']);
  t.match(runtime.spec, {
    replicas: 1,
    serviceName: 'lzy-runtime',
    template: { spec: { serviceAccountName: 'lzy-runtime', containers: [{ name: 'runtime', volumeMounts: [{ name: 'data', mountPath: '/var/lib/lzy' }] }] } },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } } } }],
  }, 'the runtime StatefulSet with its data volumeClaimTemplate');

  const role = await getJson(sim, ['clusterrole', 'lzy-runtime']);
  t.match(role, { rules: [{ resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch', 'delete'] }, { resources: ['pods'] }, { resources: ['pods/eviction'], verbs: ['create'] }, { resources: ['tokenreviews'], verbs: ['create'] }] });
  t.match(await getJson(sim, ['clusterrolebinding', 'lzy-runtime']), { roleRef: { kind: 'ClusterRole', name: 'lzy-runtime' }, subjects: [{ kind: 'ServiceAccount', name: 'lzy-runtime', namespace: 'lzy-system' }] });
  t.match(await getJson(sim, ['rolebinding', 'lzy-runtime-network-policies', '-n', 'lzy-agents']), { roleRef: { kind: 'Role', name: 'lzy-runtime-network-policies' } });
  t.match(await getJson(sim, ['serviceaccount', 'lzy-node-agent', '-n', 'lzy-agents']), { automountServiceAccountToken: false });
  t.match((await getJson(sim, ['networkpolicy', 'lzy-agents-default-deny', '-n', 'lzy-agents'])).spec, { policyTypes: ['Ingress', 'Egress'] });
  t.ok(await getJson(sim, ['networkpolicy', 'lzy-runtime-ingress', '-n', 'lzy-system']), 'the runtime’s ingress policy');

  const second = applied(await kubectl(sim, ['apply', '-f', DEPLOY]));
  t.same(second.filter((line) => !line.endsWith(' unchanged')), [], 'everything is unchanged, the StatefulSet with its volumeClaimTemplates too');
  const after = await getJson(sim, ['statefulset', 'lzy-runtime', '-n', 'lzy-system']);
  t.equal(after.metadata.resourceVersion, runtime.metadata.resourceVersion, 'the StatefulSet is not written again');
  t.equal(after.metadata.generation, 1);

  const kustomized = applied(await kubectl(sim, ['apply', '-k', DEPLOY]));
  t.equal(kustomized.length, first.length, 'apply -k covers the same objects');
  t.same(kustomized.filter((line) => !line.endsWith(' unchanged')), []);
  t.equal((await getJson(sim, ['statefulset', 'lzy-runtime', '-n', 'lzy-system'])).metadata.resourceVersion, runtime.metadata.resourceVersion);
});

t.test('kubectl apply -k deploy/ installs the same objects on a fresh cluster', { skip }, async (t) => {
  const sim = await startSim(t);
  const lines = applied(await kubectl(sim, ['apply', '-k', DEPLOY]));
  t.ok(lines.every((line) => line.endsWith(' created')), lines.join('; '));
  t.ok(await getJson(sim, ['daemonset', 'lzy-node-agent', '-n', 'lzy-agents']));
  t.ok(await getJson(sim, ['service', 'lzy-runtime', '-n', 'lzy-system']));
});

t.test('the agent DaemonSet of deploy/ runs its pod on the node labelled leased and nowhere else', { skip }, async (t) => {
  const sim = await startSim(t, { pools: { cpu: 3 } });
  await kubectl(sim, ['apply', '-f', DEPLOY]);
  const nodes = (await kubectl(sim, ['get', 'nodes', '-l', 'lzy.dev/pool=cpu', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(' ');
  t.equal(nodes.length, 3);
  const [leased, tainted] = nodes as [string, string];
  // A leased node carries the tenant's taints, which the DaemonSet tolerates.
  await kubectl(sim, ['label', 'node', leased, 'lzy.dev/leased=true', 'lzy.dev/tenant=t1']);
  await kubectl(sim, ['taint', 'node', leased, 'lzy.dev/tenant=t1:NoSchedule', 'lzy.dev/tenant=t1:NoExecute']);
  // Tainted for a tenant but not labelled leased: the nodeSelector keeps the agent off.
  await kubectl(sim, ['taint', 'node', tainted, 'lzy.dev/tenant=t2:NoSchedule']);
  const agentNodes = async () => (await kubectl(sim, ['get', 'pods', '-n', 'lzy-agents', '-o', 'jsonpath={.items[*].spec.nodeName}'])).trim();
  await waitUntil(async () => (await agentNodes()) !== '', 'the agent pod');
  await waitUntil(async () => (await kubectl(sim, ['get', 'pods', '-n', 'lzy-agents', '-o', 'jsonpath={.items[*].status.phase}'])).trim() === 'Running', 'the agent pod to run');
  t.equal(await agentNodes(), leased, 'one agent pod, on the leased node');
  t.match(await getJson(sim, ['daemonset', 'lzy-node-agent', '-n', 'lzy-agents']), { status: { desiredNumberScheduled: 1 } });
});
