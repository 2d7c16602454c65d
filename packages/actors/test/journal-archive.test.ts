import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ask, JournalArchive, LmdbJournal, spawnPersistentActor, startActorSystem, tell, type ActorRef, type ActorSystem } from '../src/index.js';
import { tempDir } from './harness.js';

type Msg = { type: 'add'; n: number } | { type: 'seen'; replyTo: ActorRef<number[]> };

/** A persistent actor of `key` that keeps the `n` of every event, in replay order. */
function counter(system: ActorSystem, key: string): ActorRef<Msg> {
  return spawnPersistentActor<number[], Msg, { n: number }>(system, {
    key,
    name: key.replace(/[^\w-]/g, '_'),
    initialState: () => [],
    apply: (seen, event) => [...seen, event.n],
    command: async (_state, msg, ctx) => {
      if (msg.type === 'add') await ctx.persist({ n: msg.n });
      else tell(msg.replyTo, ctx.state);
    },
  });
}

/** Opens the journal of `dir` with its archive, under a new actor system; keys `G/...` go together as group `G`. */
async function openAll(dir: string): Promise<{ journal: LmdbJournal; system: ActorSystem }> {
  const store = await JournalArchive.open(join(dir, 'archive'));
  const journal = LmdbJournal.open(join(dir, 'state'), { store, groupOf: (key) => key.split('/')[0]! });
  return { journal, system: startActorSystem({ persistence: journal }) };
}

async function add(ref: ActorRef<Msg>, from: number, to: number): Promise<number[]> {
  for (let n = from; n <= to; n++) tell(ref, { type: 'add', n });
  return ask(ref, { type: 'seen' }, 10_000);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

t.test('an archived journal replays as before, leaves lmdb, and events journaled after it follow in order', async (t) => {
  const dir = tempDir(t);
  let { journal, system } = await openAll(dir);
  t.same(await add(counter(system, 'ended'), 1, 40), range(1, 40));
  t.same(await add(counter(system, 'live'), 1, 3), range(1, 3));
  system.stop();

  t.equal(await journal.archive(['ended', 'never-journaled']), 1, 'only a key with events is moved');
  t.same([...journal.liveKeys()], ['live'], 'the archived key has no events left in lmdb');
  t.same(journal.events('ended').map((e) => e.sequenceNumber), range(1, 40), 'its events are read from the archive');
  t.same(journal.events('ended', 35).map((e) => e.sequenceNumber), range(36, 40), 'from an offset');
  t.same(journal.events('ended', 10, 3).map((e) => e.sequenceNumber), [11, 12, 13], 'with a limit');
  t.equal(journal.lastSequenceNumber('ended'), 40);
  await journal.close();

  ({ journal, system } = await openAll(dir));
  t.teardown(async () => {
    system.stop();
    await journal.close();
  });
  const ended = counter(system, 'ended');
  t.same(await ask(ended, { type: 'seen' }, 10_000), range(1, 40), 'a restarted actor replays the archived events');
  t.same(await add(ended, 41, 45), range(1, 45), 'and journals new ones after them');
  t.same([...journal.liveKeys()], ['ended', 'live'], 'the new events are in lmdb');
  t.same(journal.events('ended', 38, 4).map((e) => e.sequenceNumber), [39, 40, 41, 42], 'a range across the archive and lmdb');
  t.equal(journal.lastSequenceNumber('ended'), 45);
  t.equal(await journal.archive(['ended']), 1, 'archived again');
  t.same([...journal.liveKeys()], ['live']);
  t.same(journal.events('ended').map((e) => e.data), range(1, 45).map((n) => ({ n })), 'every event, once, in order');

  await journal.forget('ended');
  t.same(journal.events('ended'), [], 'a forgotten key has no events, archived or not');
});

t.test('the keys of one group are archived as one record and read back each on its own, whichever of them moves later', async (t) => {
  const dir = tempDir(t);
  let { journal, system } = await openAll(dir);
  await add(counter(system, 'run-1/graph'), 1, 4);
  await add(counter(system, 'run-1/wf'), 1, 2);
  await add(counter(system, 'run-2/graph'), 1, 3);
  system.stop();
  t.equal(await journal.archive(['run-1/graph', 'run-1/wf', 'run-2/graph']), 2, 'a record per group');
  t.same([...journal.liveKeys()], []);
  await journal.close();

  ({ journal, system } = await openAll(dir));
  t.teardown(async () => {
    system.stop();
    await journal.close();
  });
  t.same(await add(counter(system, 'run-1/wf'), 3, 3), [1, 2, 3], 'one key of the group journals again');
  t.equal(await journal.archive(['run-1/wf']), 1);
  t.same(journal.events('run-1/wf').map((e) => e.sequenceNumber), [1, 2, 3], 'its events, old and new');
  t.same(journal.events('run-1/graph').map((e) => e.sequenceNumber), [1, 2, 3, 4], 'the other key of its group kept its own');
  await journal.forget('run-1/wf');
  t.same(journal.events('run-1/wf'), [], 'a forgotten key leaves its group');
  t.same(journal.events('run-1/graph').map((e) => e.sequenceNumber), [1, 2, 3, 4], 'and the rest of the group stays');
  t.same(journal.events('run-2/graph').map((e) => e.sequenceNumber), [1, 2, 3]);
});

t.test('bytes a crash left in the archive after its last record are never read, and appends go on after them', async (t) => {
  const dir = tempDir(t);
  let { journal, system } = await openAll(dir);
  await add(counter(system, 'first'), 1, 5);
  system.stop();
  await journal.archive(['first']);
  await journal.close();
  // A crash mid-append: a torn record after the last one whose location was recorded.
  const [segment] = readdirSync(join(dir, 'archive'));
  appendFileSync(join(dir, 'archive', segment!), Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01]));

  ({ journal, system } = await openAll(dir));
  t.teardown(async () => {
    system.stop();
    await journal.close();
  });
  await add(counter(system, 'second'), 1, 7);
  t.equal(await journal.archive(['second']), 1);
  t.same(journal.events('first').map((e) => e.sequenceNumber), range(1, 5), 'the record before the torn bytes');
  t.same(journal.events('second').map((e) => e.sequenceNumber), range(1, 7), 'the record after them');
});

t.test('a journal opened without the archive its keys were moved to says so', async (t) => {
  const dir = tempDir(t);
  const { journal, system } = await openAll(dir);
  await add(counter(system, 'gone'), 1, 2);
  system.stop();
  await journal.archive(['gone']);
  await journal.close();
  const without = LmdbJournal.open(join(dir, 'state'));
  t.teardown(() => without.close());
  t.throws(() => without.events('gone'), /the journal of gone is in an archive, and this journal was opened without it/);
});
