// A Kubernetes agent whose connection to the runtime drops joins its lease again: same pod, same
// node, same tenant; the op it was running finishes there, once, and the next op goes to it over
// its new connection. The agents reach the runtime through a TCP proxy that the test cuts, as a
// network drop would.
import { writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { heldOnNode, whichNode } from './fixtures/kube-ops.js';
import { runs, tempDir, type Teardown } from './harness.js';
import { client, nodes, POOL, settle, startCluster, startRuntime } from './kube-cluster.js';

/** A TCP proxy to 127.0.0.1:`port`; `cut` drops every connection through it, both ends. */
async function startProxy(t: Teardown, port: number): Promise<{ port: number; connections(): number; cut(): void }> {
  const open = new Set<Socket>();
  let connections = 0;
  const server = createServer((inbound) => {
    connections++;
    const outbound = connect(port, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      open.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        open.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of open) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    cut: () => open.forEach((socket) => socket.destroy()),
  };
}

t.test('an agent whose connection drops joins its lease again: the op it runs finishes there once, and the next op runs there too', async (t) => {
  const cluster = await startCluster(t, { cpu: 2 });
  // Idle for a minute before it is released: the next op finds the node still leased.
  const server = await startRuntime(t, cluster, undefined, { ...POOL, idleTimeoutMs: 60_000 });
  const proxy = await startProxy(t, server.port);
  cluster.services.splice(0, cluster.services.length, { name: 'lzy-runtime', namespace: 'lzy-system', address: `127.0.0.1:${proxy.port}` });
  const alice = await client(t, server, 'alice');
  const dir = tempDir(t);
  const run = alice.workflow('held', async () => {
    const first = await heldOnNode(dir, 'held');
    return [first, await whichNode()];
  });
  await settle(() => runs(dir, 'held') === 1, 'the op to start on a leased node');
  const leased = (await nodes(cluster)).find((node) => node.metadata?.labels?.['lzy.dev/tenant'] === 'alice')!;
  const podsOn = async () => (await cluster.core.listNamespacedPod({ namespace: 'lzy-agents', fieldSelector: `spec.nodeName=${leased.metadata!.name!}` })).items;
  const [pod] = await podsOn();

  const before = proxy.connections();
  proxy.cut();
  await settle(() => proxy.connections() > before, 'the agent to dial the runtime again');
  writeFileSync(join(dir, 'held.go'), '');
  const [held, next] = await run;
  t.equal(held, leased.metadata?.name, 'the op finished on the node it started on');
  t.equal(next, leased.metadata?.name, 'the next op ran on the same node, sent over the agent’s new connection');
  t.equal(runs(dir, 'held'), 1, 'it ran once: the node was not lost');
  const [after] = await podsOn();
  t.equal(after?.metadata?.uid, pod?.metadata?.uid, 'the same agent pod serves the node');
  t.equal(after?.status?.containerStatuses?.[0]?.restartCount, 0, 'its agent did not exit');
  t.equal((await nodes(cluster)).find((node) => node.metadata?.name === leased.metadata?.name)?.metadata?.labels?.['lzy.dev/tenant'], 'alice', 'the node is still leased to alice');
});
