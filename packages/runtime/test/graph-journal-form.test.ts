import t, { type Test } from 'tap';
import { LmdbJournal } from '@lzy/actors';
import { encodeValue, refFor, storedRef } from '@lzy/node-agent/protocol';
import { graphJournalForm } from '../src/graph/graph-journal-form.js';
import type { GraphEvent } from '../src/graph/graph-state.js';
import { OpSpec } from '../src/protocol/client.js';
import { tempDir } from './harness.js';

const bundle = { uri: `blob:${'b'.repeat(64)}`, hash: 'b'.repeat(64), size: 100 };
const base: Omit<OpSpec, 'id' | 'args'> = {
  name: 'f',
  module: 'file:///ops/f.js',
  exportName: 'f',
  bundle,
  retries: { max: 0, backoffMs: 1000 },
  env: {},
};

/** A value of every optional or nested field of a spec, different from `base`. */
const variants: Record<string, Partial<OpSpec>> = {
  name: { name: 'g' },
  module: { module: 'file:///ops/g.js' },
  exportName: { exportName: 'g' },
  bundle: { bundle: { ...bundle, hash: 'c'.repeat(64) } },
  pool: { pool: 'gpu' },
  cpu: { cpu: 2 },
  memoryMb: { memoryMb: 512 },
  retries: { retries: { max: 3, backoffMs: 1000 } },
  timeoutMs: { timeoutMs: 5000 },
  env: { env: { A: '1' } },
  cache: { cache: { version: '2', codeHash: 'abc' } },
};

/** Stores `event` in a real journal in its journal form, reads it back and restores it. */
async function roundTrip(t: Test, event: GraphEvent): Promise<{ restored: GraphEvent; stored: unknown }> {
  const journal = LmdbJournal.open(tempDir(t));
  t.teardown(() => journal.close());
  await journal.persist({ key: 'graph:wf', sequenceNumber: 1, data: graphJournalForm.stored(event), tags: [], createdAt: 0, isDeleted: false });
  const [read] = journal.events('graph:wf');
  return { restored: graphJournalForm.restored(read!.data), stored: read!.data };
}

t.test('a submission journaled compactly restores every field of every spec, whatever the ops and their options', async (t) => {
  t.same(
    Object.keys(variants).sort(),
    Object.keys(OpSpec.properties)
      .filter((key) => key !== 'id' && key !== 'args')
      .sort(),
    'every field of a spec is varied here (a new field must be journaled too)',
  );
  const ops: OpSpec[] = [];
  let n = 0;
  const arg = () => ({ kind: 'value' as const, ref: refFor(encodeValue(n)) });
  // Calls of one op, then of each variant, interleaved with calls of the first again.
  for (const variant of [{}, ...Object.values(variants)]) {
    for (let i = 0; i < 3; i++) ops.push({ ...base, ...variant, id: `op-${n++}`, args: [arg()] });
    ops.push({ ...base, id: `op-${n++}`, args: [] });
  }
  ops.push({ ...base, id: `op-${n++}`, args: [{ kind: 'op', opId: 'op-0' }, { kind: 'value', ref: storedRef('d'.repeat(64), 70_000) }, arg()] });
  const { restored, stored } = await roundTrip(t, { type: 'ops-added', ops });
  t.same(restored, { type: 'ops-added', ops }, 'the same specs come back');
  t.equal((stored as { shapes: unknown[] }).shapes.length, 1 + Object.keys(variants).length, 'each distinct op and options once');
});

t.test('successes journaled compactly restore their results, inline or stored, and whether they came from the cache', async (t) => {
  const results = [
    { opId: 'a', result: refFor(encodeValue({ x: 1 })), cached: false },
    { opId: 'b', result: storedRef('e'.repeat(64), 100_000), cached: true },
  ];
  const { restored } = await roundTrip(t, { type: 'ops-succeeded', results });
  t.same(restored, { type: 'ops-succeeded', results });
});

t.test('graph events journaled as they were by earlier versions restore unchanged', async (t) => {
  const earlier: GraphEvent[] = [
    { type: 'ops-added', ops: [{ ...base, id: 'op-1', args: [{ kind: 'value', ref: { ...refFor(encodeValue(1)), uri: `blob:${'f'.repeat(64)}` } }] }] },
    { type: 'ops-succeeded', results: [{ opId: 'op-1', result: refFor(encodeValue(2)), cached: false }] },
    { type: 'op-failed', opId: 'op-2', failure: { code: 'USER_ERROR', name: 'Error', message: 'boom', retryable: false } },
    { type: 'stopped', reason: 'cancelled' },
  ];
  for (const event of earlier) t.same(graphJournalForm.restored(event), event, event.type);
});

t.test('a success journaled with where its attempts’ time went restores every phase of every attempt', async (t) => {
  const phases = { queueMs: 1.5, allocateMs: 120, transferInMs: 3.25, runMs: 40, transferOutMs: 0 };
  const results = [
    {
      opId: 'a',
      result: refFor(encodeValue(1)),
      cached: false,
      attempts: 2,
      startedAt: 1000,
      endedAt: 1200,
      timings: [
        { attempt: 1, ok: false, nodeId: 'node-1', ...phases },
        { attempt: 2, ok: true, nodeId: 'node-2', ...phases, allocateMs: 0 },
      ],
    },
  ];
  const { restored } = await roundTrip(t, { type: 'ops-succeeded', results });
  t.same(restored, { type: 'ops-succeeded', results });
});
