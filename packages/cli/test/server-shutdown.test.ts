import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runs, startFixture, startServer, tempDir, waitUntil } from './harness.js';

t.test('SIGTERM lets a running op finish, exits 0, and after a restart the client gets its result with no op run twice', async (t) => {
  const dataDir = tempDir(t);
  const dir = tempDir(t);
  const first = await startServer(t, { dataDir, args: ['--drain-ms', '60000'] });
  const client = startFixture(t, 'remote-client', [first.url, first.adminToken, dir]);
  await waitUntil(() => runs(dir, 'b') === 1, 'op b to start', 60_000);

  first.child.process.kill('SIGTERM');
  writeFileSync(join(dir, 'b.go'), '');
  t.same(await first.child.exited, { code: 0, signal: null }, 'the server drained and exited 0');

  await startServer(t, { dataDir, port: first.port });
  t.equal(await client.waitForLine((line) => line.startsWith('result ') || line.startsWith('error '), 'the result', 60_000), 'result 3');
  t.same([runs(dir, 'a'), runs(dir, 'b'), runs(dir, 'c')], [1, 1, 1], 'each op ran once');
});

t.test('an op still running when the drain time is up is handed back and runs again after the restart', async (t) => {
  const dataDir = tempDir(t);
  const dir = tempDir(t);
  const first = await startServer(t, { dataDir, args: ['--drain-ms', '200'] });
  const client = startFixture(t, 'remote-client', [first.url, first.adminToken, dir]);
  await waitUntil(() => runs(dir, 'b') === 1, 'op b to start', 60_000);

  first.child.process.kill('SIGTERM');
  t.same(await first.child.exited, { code: 0, signal: null }, 'the server exited 0 without waiting for op b');

  writeFileSync(join(dir, 'b.go'), '');
  await startServer(t, { dataDir, port: first.port });
  t.equal(await client.waitForLine((line) => line.startsWith('result ') || line.startsWith('error '), 'the result', 60_000), 'result 3');
  t.equal(runs(dir, 'a'), 1, 'op a, journaled before the shutdown, did not run again');
  t.equal(runs(dir, 'b'), 2, 'op b ran again');
});
