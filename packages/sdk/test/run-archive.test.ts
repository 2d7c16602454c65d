import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { LmdbJournal } from '@lzy/actors';
import { KEEP_ENDED_MAX, Runtime } from '@lzy/runtime';
import { Lzy } from '../src/index.js';
import { flaky, inc } from './fixtures/ops.js';
import { tempDir, waitUntil } from './harness.js';

/** More runs than the runtime holds in memory once ended: the first ones leave memory at once. */
const RUNS = KEEP_ENDED_MAX + 100;

/** Whether every id of `workflowIds` is in the archive's segments (a record's key holds its run's id). */
function archived(dataDir: string, workflowIds: readonly string[]): boolean {
  const dir = join(dataDir, 'journal-archive');
  const bytes = Buffer.concat(readdirSync(dir).map((name) => readFileSync(join(dir, name))));
  return workflowIds.every((id) => bytes.includes(`graph:${id}`) && bytes.includes(`wf:${id}`));
}

/** The run keys with events still in lmdb, read after the runtime closed. */
function runKeysInLmdb(dataDir: string): string[] {
  const journal = LmdbJournal.open(join(dataDir, 'state'));
  try {
    return [...journal.liveKeys()].filter((key) => /^(wf|graph):/.test(key));
  } finally {
    void journal.close();
  }
}

t.test('runs that ended leave the state for the archive, and read back the same: status, timings, critical path, across a restart', async (t) => {
  const dataDir = tempDir(t);
  const dir = tempDir(t);
  let runtime = await Runtime.start({ dataDir });
  const token = await runtime.iam.issueToken('alice');
  let lzy = await Lzy.connect({ endpoint: runtime.url, token, onLog: () => {} });
  let first = '';
  const answer = await lzy.workflow('timed', async (wf) => {
    first = wf.id;
    await flaky(dir);
    return await inc(inc(inc(0)));
  });
  t.equal(answer, 3);
  const before = await lzy.status(first);

  const ids: string[] = [];
  for (let started = 0; started < RUNS; started += 64) {
    const batch = Array.from({ length: Math.min(64, RUNS - started) }, (_, i) => started + i);
    await Promise.all(batch.map((i) => lzy.workflow(`one-${i}`, async (wf) => (ids.push(wf.id), await inc(i)))));
  }
  const leftMemory = [first, ...ids.slice(0, RUNS - KEEP_ENDED_MAX - 1)];
  await waitUntil(() => archived(dataDir, leftMemory), 'the runs that left memory to be archived', 60_000);
  t.same(await lzy.status(first), before, 'an archived run reads back as it was');
  t.equal((await lzy.status(ids[0]!)).ops[0]?.state, 'succeeded', 'and so does an archived one-op run');

  await lzy.close();
  await runtime.close();
  const left = runKeysInLmdb(dataDir);
  t.ok(left.length > 0 && left.length <= 2 * (KEEP_ENDED_MAX + 1), `only runs still in memory at the close kept their journals in lmdb (${left.length / 2} runs)`);

  runtime = await Runtime.start({ dataDir });
  lzy = await Lzy.connect({ endpoint: runtime.url, token, onLog: () => {} });
  t.same(await lzy.status(first), before, 'after a restart too');
  // A restart archives the runs that ended before it and were still in lmdb.
  await waitUntil(() => archived(dataDir, ids), 'every ended run to be archived after the restart', 60_000);
  t.equal((await lzy.status(ids.at(-1)!)).run.status, 'finished', 'the last run, archived by the restart, reads back');
  await lzy.close();
  await runtime.close();
  t.same(runKeysInLmdb(dataDir), [], 'no ended run keeps its journal in lmdb');
});
