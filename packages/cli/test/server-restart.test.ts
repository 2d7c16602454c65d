import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { runs, startFixture, startServer, tempDir, waitUntil } from './harness.js';

t.test('after a SIGKILL of lzy server mid-graph, the waiting client reconnects by itself and gets the right result', async (t) => {
  const dataDir = tempDir(t);
  const dir = tempDir(t);
  const first = await startServer(t, { dataDir });
  const client = startFixture(t, 'remote-client', [first.url, first.adminToken, dir]);
  await client.waitForLine((line) => line.startsWith('workflow '), 'the workflow to start');
  await waitUntil(() => runs(dir, 'b') === 1, 'op b to start (after a succeeded)', 60_000);

  first.child.process.kill('SIGKILL');
  await first.child.exited;
  t.equal(runs(dir, 'a'), 1);

  const second = await startServer(t, { dataDir, port: first.port });
  t.equal(second.adminToken, first.adminToken, 'the restarted server keeps its admin token');
  writeFileSync(join(dir, 'b.go'), '');
  const result = await client.waitForLine((line) => line.startsWith('result ') || line.startsWith('error '), 'the client to get its result', 60_000);
  t.equal(result, 'result 3');
  t.same(await client.exited, { code: 0, signal: null });
  t.equal(runs(dir, 'a'), 1, 'op a, which had succeeded before the crash, did not run again');
  t.equal(runs(dir, 'c'), 1);
});

t.test('roles bound to a subject are still bound after lzy server is killed and restarted', async (t) => {
  const dataDir = tempDir(t);
  const first = await startServer(t, { dataDir });
  const admin = await RemoteConnection.open({ endpoint: first.url, token: first.adminToken });
  const viewerToken = await admin.issueToken('team', 'viewer');
  const viewer = await RemoteConnection.open({ endpoint: first.url, token: viewerToken });
  const { id } = await viewer.whoami();
  await Promise.all([viewer.close(), admin.grantRole('team', id, 'member')]);
  await admin.close();
  first.child.process.kill('SIGKILL');
  await first.child.exited;

  const second = await startServer(t, { dataDir, port: first.port });
  const again = await RemoteConnection.open({ endpoint: second.url, token: viewerToken });
  t.teardown(() => again.close());
  t.same(await again.whoami(), { id, tenant: 'team', roles: ['viewer', 'member'] });
});

t.test('after a SIGKILL of lzy server with 64 small workflows in flight, every result a client got stays finished with it and no acknowledged op runs again', async (t) => {
  const dataDir = tempDir(t);
  const dir = tempDir(t);
  const count = 64;
  const first = await startServer(t, { dataDir });
  const client = startFixture(t, 'many-workflows', [first.url, first.adminToken, dir, String(count)]);
  // Killed while results arrive: some workflows have their result, and the second half, held, are still in flight.
  await waitUntil(() => client.lines.filter((line) => line.startsWith('result ')).length >= 8, 'the first results', 120_000);
  first.child.process.kill('SIGKILL');
  await first.child.exited;
  // The ops whose success the client had heard of: a of each acked workflow, a and b of each resolved one.
  const ackedBefore = client.lines.flatMap((line) => {
    const [what, i] = line.split(' ');
    return what === 'acked' ? [`a-${i}`] : what === 'result' ? [`b-${i}`] : [];
  });
  const resultsBefore = client.lines.filter((line) => line.startsWith('result ')).length;
  t.ok(resultsBefore <= count / 2, `the kill came with workflows in flight (${resultsBefore} of ${count} had their result)`);

  const second = await startServer(t, { dataDir, port: first.port });
  for (let i = count / 2; i < count; i++) writeFileSync(join(dir, `b-${i}.go`), '');
  const connection = await RemoteConnection.open({ endpoint: second.url, token: second.adminToken });
  t.teardown(() => connection.close());
  await client.waitForLine((line) => line === 'done', 'every workflow to resolve after the restart', 120_000).catch(async (error: Error) => {
    // Where each workflow still waiting stands, as the client and the runtime see it.
    const resolved = new Set(client.lines.flatMap((line) => (line.startsWith('result ') ? [line.split(' ')[1]] : [])));
    const waiting = Array.from({ length: count }, (_, i) => String(i)).filter((i) => !resolved.has(i));
    const described = await Promise.all(
      waiting.map(async (i) => {
        const seen = client.lines.filter((line) => line.split(' ')[1] === i);
        const id = seen.find((line) => line.startsWith('started '))?.split(' ')[2];
        const detail = id ? await connection.describe(id, 0, 5).catch((e: Error) => e.message) : 'not started';
        return `${seen.join(', ')}: ${JSON.stringify(detail)}`;
      }),
    );
    throw new Error(`${error.message}; waiting: ${described.join(' | ')}`);
  });
  t.same(await client.exited, { code: 0, signal: null }, `no workflow failed: ${client.lines.filter((line) => line.startsWith('error ')).join(' | ')}`);

  const lzy = Lzy.over(connection, { onLog: () => {} });
  const results = client.lines.flatMap((line) => (line.startsWith('result ') ? [line.split(' ')] : []));
  t.equal(results.length, count, 'every workflow got its result');
  for (const [, i, workflowId, value] of results) {
    t.equal(value, String(Number(i) + 2), `workflow ${i} resolved with its ops' result`);
    const { run } = await connection.describe(workflowId!, 0, 1);
    t.equal(run.status, 'finished', `workflow ${i} is finished`);
    t.equal(await lzy.attach(workflowId!), Number(i) + 2, `workflow ${i} keeps its result`);
  }
  const twice = ackedBefore.filter((op) => runs(dir, op) !== 1);
  t.same(twice, [], `no op whose result the client had before the kill ran again (${ackedBefore.length} had)`);
});
