import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { RemoteConnection } from '@lzy/sdk';
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
