import { writeFileSync } from 'node:fs';
import t from 'tap';
import type { AttemptTimings } from '@lzy/runtime';
import type { OpPhases } from '@lzy/sdk';
import { fixture, lzy, runs, startServer, tempDir, waitUntil } from './harness.js';

interface TimedOp {
  opId: string;
  name: string;
  state: string;
  attempts: number;
  critical: boolean;
  phases: OpPhases;
  timings: AttemptTimings[];
}

t.test('lzy status WORKFLOW --timings shows where each op’s time went and the run’s critical path', async (t) => {
  const server = await startServer(t);
  const env = { LZY_ENDPOINT: server.url, LZY_TOKEN: server.adminToken };
  const dir = tempDir(t);
  const running = lzy(['run', fixture('timed-program')], { ...env, LZY_TEST_DIR: dir });
  // The side step has ended before the chain's gated step may: the chain ends last.
  await waitUntil(() => runs(dir, 'side') === 1 && runs(dir, 'b') === 1, 'the side step and the gated step to run', 60_000);
  writeFileSync(`${dir}/b.go`, '');
  const run = await running;
  t.equal(run.code, 0, run.stderr);
  const list = JSON.parse((await lzy(['status', '--json'], env)).lines.at(-1)!) as Array<{ workflowId: string }>;
  const workflowId = list[0]!.workflowId;

  const json = await lzy(['status', workflowId, '--timings', '--json'], env);
  t.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.lines.at(-1)!) as { workflowId: string; status: string; criticalPath: string[]; ops: TimedOp[] };
  t.match(status, { workflowId, status: 'finished' });
  const byName = new Map(status.ops.map((op) => [op.name, op]));
  t.same(
    status.criticalPath.map((id) => status.ops.find((op) => op.opId === id)!.name),
    ['big', 'lengthOf', 'gated', 'step'],
    'the critical path is the chain that ended last, first to last',
  );
  t.same(
    status.ops.filter((op) => op.critical).map((op) => op.name).sort(),
    ['big', 'gated', 'lengthOf', 'step'],
    'the ops on it are marked, the side step is not',
  );
  for (const op of status.ops) {
    t.equal(op.timings.length, 1, `${op.name} has the timings of its one attempt`);
    t.match(op.timings[0], { attempt: 1, ok: true, nodeId: /^node-/ }, `${op.name}'s attempt ran on a node`);
    t.ok(op.phases.runMs > 0, `${op.name} ran`);
    t.type(op.phases.commitMs, 'number', `${op.name}'s outcome was journaled`);
  }
  t.ok(byName.get('big')!.phases.allocateMs > 0, 'the first ops waited for a node of the fresh server to be leased');
  t.ok(byName.get('big')!.phases.transferOutMs > 0, 'big stored its large result');
  t.equal(byName.get('gated')!.phases.transferOutMs, 0, 'a small result travels inline');
  t.ok(byName.get('lengthOf')!.phases.transferInMs > 0, 'lengthOf fetched its stored input to its node');

  const text = await lzy(['status', workflowId, '--timings'], env);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^critical path\s+big#\S+ → lengthOf#\S+ → gated#\S+ → step#\S+ \(\S+\)$/m);
  t.match(text.stdout, /^\s+OP\s+STATE\s+ATTEMPTS\s+QUEUE\s+ALLOCATE\s+TRANSFER IN\s+RUN\s+TRANSFER OUT\s+COMMIT\s+TOTAL$/m);
  t.match(text.stdout, /^\*\s+lengthOf#\S+\s+succeeded\s+1\s/m, 'a critical op is starred');
  t.match(text.stdout, /^\s+step#\S+\s+succeeded\s+1\s/m, 'the side step is not');

  const noRun = await lzy(['status', '--timings'], env);
  t.equal(noRun.code, 2, '--timings without a run id is a wrong command line');
});
