import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startFixture, tempDir, waitUntil } from './harness.js';

const count = (dir: string, name: string) => readFileSync(join(dir, `${name}.count`), 'utf8').split('\n').length - 1;

t.test('after a SIGKILL of the runtime mid-graph, a restart finishes the graph without rerunning succeeded ops', async (t) => {
  const dataDir = tempDir(t);
  const countDir = tempDir(t);
  const first = startFixture(t, 'runtime-host', ['start', dataDir, countDir]);
  const workflowLine = await first.waitForLine((line) => line.startsWith('workflow '), 'the workflow to start');
  const workflowId = workflowLine.split(' ')[1]!;
  await first.waitForLine((line) => line.startsWith('succeeded a'), 'op a to succeed', 60_000);
  // Killed only once b runs: the graph is cut mid-way, with a succeeded, b running and c waiting.
  await waitUntil(() => existsSync(join(countDir, 'b.count')), 'op b to start', 60_000);
  first.process.kill('SIGKILL');
  await first.exited;
  t.equal(count(countDir, 'a'), 1);
  t.equal(count(countDir, 'b'), 1);

  writeFileSync(join(countDir, 'release'), '');
  const second = startFixture(t, 'runtime-host', ['resume', dataDir, workflowId]);
  await second.waitForLine((line) => line.startsWith('finished'), 'the resumed workflow to finish', 60_000);
  t.ok(second.lines.includes('succeeded c 3'), `op c computed 3 from the journaled result of a: ${second.lines.join(' | ')}`);
  t.ok(second.lines.includes('finished finished'));
  t.equal(count(countDir, 'a'), 1, 'op a, which had succeeded, did not run again');
  t.equal(count(countDir, 'b'), 2, 'op b, cut off while it ran, ran again');
  t.equal(count(countDir, 'c'), 1);
});
