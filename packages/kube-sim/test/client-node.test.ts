// The real @kubernetes/client-node against the simulator: CRUD, patches, errors, selectors, watches and informers.
import t from 'tap';
import { ApiException, CoreV1Api, makeInformer, PatchStrategy, setHeaderOptions, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { nodeKind } from '../src/kinds/index.js';
import { kubeConfigOf, startSim, waitUntil } from './harness.js';

function node(name: string, labels: Record<string, string> = {}): V1Node {
  return { metadata: { name, labels } };
}

function pod(name: string, nodeName?: string): V1Pod {
  return { metadata: { name, namespace: 'default', labels: { app: 'demo' } }, spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'main', image: 'busybox:1' }] } };
}

async function failure(promise: Promise<unknown>): Promise<{ code: number; reason: string }> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = JSON.parse(String(error.body)) as { reason: string };
    return { code: error.code, reason: body.reason };
  }
  throw new Error('the request succeeded');
}

t.test('nodes and pods are created, listed by label and field, patched three ways and deleted', async (t) => {
  const sim = await startSim(t);
  const core = kubeConfigOf(sim).makeApiClient(CoreV1Api);
  const created = await core.createNode({ body: node('n1', { 'lzy.dev/pool': 'cpu' }) });
  t.ok(created.metadata?.uid, 'the server assigns a uid');
  await core.createNode({ body: node('n2', { 'lzy.dev/pool': 'gpu' }) });
  const list = await core.listNode({ labelSelector: 'lzy.dev/pool in (cpu)' });
  t.same(list.items.map((n) => n.metadata?.name), ['n1']);
  t.ok(Number(list.metadata?.resourceVersion) >= Number(created.metadata?.resourceVersion), 'a list carries the latest resourceVersion');
  t.same((await core.listNode({ labelSelector: '!lzy.dev/tenant,lzy.dev/pool!=gpu' })).items.map((n) => n.metadata?.name), ['n1']);

  // The default patch type of patchNode is a JSON patch; merge and strategic are chosen per call.
  await core.patchNode({ name: 'n1', body: [{ op: 'add', path: '/metadata/labels/lzy.dev~1tenant', value: 'a' }] });
  t.same((await core.listNode({ labelSelector: '!lzy.dev/tenant' })).items.map((n) => n.metadata?.name), ['n2'], 'a node labelled for a tenant leaves the never-leased selection');
  await core.patchNode({ name: 'n1', body: { spec: { taints: [{ key: 'lzy.dev/tenant', value: 'a', effect: 'NoSchedule' }] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  const tainted = await core.patchNode(
    { name: 'n1', body: { spec: { unschedulable: true, taints: [{ key: 'lzy.dev/tenant', value: 'a', effect: 'NoExecute' }] } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  t.same(tainted.spec?.taints?.map((x) => x.effect), ['NoExecute'], 'a strategic patch replaces taints whole');
  t.equal(tainted.metadata?.labels?.['lzy.dev/tenant'], 'a');
  t.same((await core.listNode({ fieldSelector: 'spec.unschedulable=true' })).items.map((n) => n.metadata?.name), ['n1']);

  await core.createNamespacedPod({ namespace: 'default', body: pod('p1', 'n1') });
  await core.createNamespacedPod({ namespace: 'default', body: pod('p2', 'n2') });
  const onN1 = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n1' });
  t.same(onN1.items.map((p) => p.metadata?.name), ['p1']);
  const patched = await core.patchNamespacedPod(
    { name: 'p1', namespace: 'default', body: { spec: { containers: [{ name: 'main', image: 'busybox:2' }] } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  t.equal(patched.spec?.containers[0]?.image, 'busybox:2', 'containers merge by name');
  t.equal(patched.spec?.containers.length, 1);

  await core.deleteNode({ name: 'n2' });
  await waitUntil(async () => (await core.listNamespacedPod({ namespace: 'default' })).items.every((p) => p.metadata?.name !== 'p2'), 'the deleted node’s pod to be collected');
  t.same((await core.listNode()).items.map((n) => n.metadata?.name), ['n1']);
});

t.test('the API answers with the Status errors of a real server', async (t) => {
  const sim = await startSim(t);
  const core = kubeConfigOf(sim).makeApiClient(CoreV1Api);
  const first = await core.createNode({ body: node('n1') });
  t.same(await failure(core.readNode({ name: 'missing' })), { code: 404, reason: 'NotFound' });
  t.same(await failure(core.createNode({ body: node('n1') })), { code: 409, reason: 'AlreadyExists' });
  t.same(await failure(core.createNode({ body: node('Not_A_Name') })), { code: 422, reason: 'Invalid' });
  t.same(await failure(core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'p' }, spec: { containers: [] } } })), { code: 422, reason: 'Invalid' });
  await core.patchNode({ name: 'n1', body: { metadata: { labels: { a: '1' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  const stale = { metadata: { resourceVersion: first.metadata?.resourceVersion ?? '', labels: { 'lzy.dev/tenant': 't' } } };
  t.same(
    await failure(core.patchNode({ name: 'n1', body: stale }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))),
    { code: 409, reason: 'Conflict' },
    'a patch with a stale resourceVersion loses',
  );
  t.same(await failure(core.patchNode({ name: 'n1', body: {} }, setHeaderOptions('Content-Type', 'application/x-unknown'))), { code: 415, reason: 'UnsupportedMediaType' });
  t.same(await failure(core.listNode({ fieldSelector: 'status.capacity=1' })), { code: 400, reason: 'BadRequest' });
  t.same(await failure(core.createNamespacedPod({ namespace: 'nowhere', body: { ...pod('p'), metadata: { name: 'p' } } })), { code: 404, reason: 'NotFound' });
});

t.test('an informer sees adds, updates and deletes, and keeps up across a dropped watch and a 410', async (t) => {
  const sim = await startSim(t);
  const config = kubeConfigOf(sim);
  const core = config.makeApiClient(CoreV1Api);
  const informer = makeInformer(config, '/api/v1/nodes', () => core.listNode());
  const seen: string[] = [];
  informer.on('add', (n) => seen.push(`add ${n.metadata?.name}`));
  informer.on('update', (n) => seen.push(`update ${n.metadata?.name} ${n.metadata?.labels?.x ?? ''}`));
  informer.on('delete', (n) => seen.push(`delete ${n.metadata?.name}`));
  // A dropped connection is an error to the informer, which its owner restarts.
  let stopped = false;
  informer.on('error', () => void (stopped || informer.start()));
  await informer.start();
  await waitUntil(() => sim.openWatches() === 1, 'the informer to watch');
  await core.createNode({ body: node('n1') });
  await core.patchNode({ name: 'n1', body: { metadata: { labels: { x: '1' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await waitUntil(() => seen.includes('update n1 1'), 'the update');

  sim.dropWatches();
  await core.createNode({ body: node('n2') });
  await waitUntil(() => seen.includes('add n2'), 'the node added while the watch was down');
  await waitUntil(() => sim.openWatches() === 1, 'the informer to watch again');

  // In one tick, before the informer can resume: its watch ends, n1 goes, n3 comes, and the history
  // of both is forgotten. It resumes from a resourceVersion no longer kept: only the 410 and the
  // re-list it causes can tell it of those changes.
  sim.endWatches();
  sim.store.delete(nodeKind, undefined, 'n1');
  sim.store.create(nodeKind, undefined, { metadata: { name: 'n3' } });
  sim.compactHistory();
  await waitUntil(() => seen.includes('delete n1') && seen.includes('add n3'), 'the changes made before the re-list');
  t.same(informer.list().map((n) => n.metadata?.name).sort(), ['n2', 'n3']);
  stopped = true;
  await informer.stop();
});
