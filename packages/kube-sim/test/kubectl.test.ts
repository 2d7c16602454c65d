// The real kubectl against the simulator: apply, get, label, taint, cordon, drain, delete and get -w.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { KUBECTL, kubectl, startSim, waitUntil } from './harness.js';

const MANIFESTS = fileURLToPath(new URL('../../test/fixtures/manifests/', import.meta.url));
const skip = KUBECTL ? false : 'no kubectl binary on this machine (install Debian’s kubernetes-client)';

t.test('kubectl apply creates the manifests, a second apply changes nothing, and an edited one is patched', { skip }, async (t) => {
  const sim = await startSim(t, { pools: { cpu: 2 } });
  const first = await kubectl(sim, ['apply', '-f', MANIFESTS]);
  t.match(first, /daemonset\.apps\/lzy-node-agent created/);
  t.match(first, /networkpolicy\.networking\.k8s\.io\/default-deny created/);
  t.match(first, /statefulset\.apps\/lzy-runtime created/);
  t.match(await kubectl(sim, ['apply', '-f', MANIFESTS]), /daemonset\.apps\/lzy-node-agent unchanged/);
  const applied = JSON.parse(await kubectl(sim, ['get', 'ds', 'lzy-node-agent', '-n', 'lzy-agents', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
  t.ok(applied.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], 'apply keeps its last-applied annotation');
  const container = async () => JSON.parse(await kubectl(sim, ['get', 'ds', 'lzy-node-agent', '-n', 'lzy-agents', '-o', 'jsonpath={.spec.template.spec.containers[0]}'])) as unknown;
  const rest = { args: ['--server', 'ws://lzy-runtime.lzy-system.svc:7000', '--slots', '2'], ports: [{ containerPort: 9000 }] };
  await kubectl(sim, ['-n', 'lzy-agents', 'set', 'image', 'ds/lzy-node-agent', 'agent=lzy/node-agent:0.2.0']);
  t.match(await container(), { image: 'lzy/node-agent:0.2.0', ...rest }, 'a strategic patch merges the container by name, keeping its other fields');
  t.match(await kubectl(sim, ['apply', '-f', MANIFESTS]), /daemonset\.apps\/lzy-node-agent configured/);
  t.match(await container(), { image: 'lzy/node-agent:0.1.0', ...rest });
});

t.test('kubectl labels, taints and cordons a node, the agent lands on it, drain keeps it, delete removes the node', { skip }, async (t) => {
  const sim = await startSim(t, { pools: { cpu: 2 } });
  await kubectl(sim, ['apply', '-f', MANIFESTS]);
  const name = (await kubectl(sim, ['get', 'nodes', '-l', 'lzy.dev/pool=cpu', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  await kubectl(sim, ['label', 'node', name, 'lzy.dev/leased=true', 'lzy.dev/tenant=t1']);
  await kubectl(sim, ['taint', 'nodes', name, 'lzy.dev/tenant=t1:NoSchedule', 'lzy.dev/tenant=t1:NoExecute']);
  const agentOn = () => kubectl(sim, ['get', 'pods', '-n', 'lzy-agents', '--field-selector', `spec.nodeName=${name}`, '-o', 'jsonpath={.items[*].status.phase}']);
  await waitUntil(async () => (await agentOn()).trim() === 'Running', 'the agent pod to run on the leased node');
  await kubectl(sim, ['cordon', name]);
  t.match(await kubectl(sim, ['drain', name, '--ignore-daemonsets']), /drained/);
  t.equal((await agentOn()).trim(), 'Running', 'drain leaves DaemonSet pods');
  t.match(await kubectl(sim, ['get', 'node', name, '-o', 'jsonpath={.spec.unschedulable} {.spec.taints[*].effect}']), /^true NoSchedule NoExecute/);
  await kubectl(sim, ['delete', 'node', name]);
  t.equal((await agentOn()).trim(), '', 'the node’s pods go with it');
});

t.test('kubectl get -w shows a change made after it started', { skip }, async (t) => {
  const sim = await startSim(t, { pools: { cpu: 1 } });
  const watcher = spawn(KUBECTL!, [`--kubeconfig=${sim.kubeconfigPath}`, 'get', 'nodes', '-w', '-o', 'name'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void watcher.kill());
  let output = '';
  watcher.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitUntil(() => sim.openWatches() === 1, 'kubectl to watch');
  await kubectl(sim, ['label', 'node', '--all', 'seen=yes']);
  await waitUntil(() => output.trim().split('\n').length >= 2, 'the watch to print the labelled node');
  t.match(output, /node\/cpu-/);
});
