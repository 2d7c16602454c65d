import t, { type Test } from 'tap';
import {
  ask,
  LmdbJournal,
  spawnPersistentActor,
  startActorSystem,
  tell,
  type ActorRef,
  type ActorSystem,
  type JournalForm,
  type PersistenceEngine,
} from '../src/index.js';
import { startFixture, tempDir, waitUntil } from './harness.js';

type Event = { n: number; payload: string };
type ReadMsg = { type: 'events'; replyTo: ActorRef<number[]> } | { type: 'add'; n: number };

/**
 * A persistent actor that keeps the `n` of every event of `key`, in replay order; `applied`, when
 * given, gets the `n` of each event the actor applies itself (replayed or new), not those a snapshot brought.
 */
function reader(
  system: ActorSystem,
  key: string,
  options: { snapshotEvery?: number; journalForm?: JournalForm<Event>; applied?: number[] } = {},
): ActorRef<ReadMsg> {
  const { snapshotEvery, journalForm, applied } = options;
  return spawnPersistentActor<number[], ReadMsg, Event>(system, {
    key,
    name: key,
    initialState: () => [],
    apply: (seen, event) => {
      applied?.push(event.n);
      return [...seen, event.n];
    },
    command: async (_state, msg, ctx) => {
      if (msg.type === 'add') await ctx.persist({ n: msg.n, payload: '' });
      else tell(msg.replyTo, ctx.state);
    },
    ...(snapshotEvery === undefined ? {} : { snapshotEvery }),
    ...(journalForm === undefined ? {} : { journalForm }),
  });
}

/** Stops `system`, closes `journal`, and opens the journal in `dir` again under a new system (both closed at teardown). */
async function restart(t: Test, dir: string, system: ActorSystem, journal: LmdbJournal): Promise<{ journal: LmdbJournal; system: ActorSystem }> {
  system.stop();
  await journal.close();
  const reopened = LmdbJournal.open(dir);
  const restarted = startActorSystem({ persistence: reopened });
  t.teardown(async () => {
    restarted.stop();
    await reopened.close();
  });
  return { journal: reopened, system: restarted };
}

t.test('after a SIGKILL mid-write, every acknowledged event is replayed in order with no gap', async (t) => {
  const dir = tempDir(t);
  const keys = ['stream-0', 'stream-1', 'stream-2', 'stream-3'];
  const writer = startFixture(t, 'journal-writer', [dir, String(keys.length)]);
  await writer.waitForLine((line) => line === 'started', 'the writer to start');
  // Let every stream get well into its journal, then kill the writer mid-stream.
  await waitUntil(() => writer.lines.length >= 400, 'at least 400 acknowledged events', 60_000);
  writer.process.kill('SIGKILL');
  const { signal } = await writer.exited;
  t.equal(signal, 'SIGKILL');

  const acked = new Map<string, number>();
  for (const line of writer.lines) {
    const [word, key, n] = line.split(' ');
    if (word === 'acked') acked.set(key!, Math.max(acked.get(key!) ?? 0, Number(n)));
  }
  t.equal(acked.size, keys.length, 'every stream acknowledged events before the kill');

  const journal = LmdbJournal.open(dir);
  const system = startActorSystem({ name: 'replay', persistence: journal });
  t.teardown(async () => {
    system.stop();
    await journal.close();
  });
  for (const key of keys) {
    const replayed = await ask(reader(system, key), { type: 'events' }, 10_000);
    const ackedUpTo = acked.get(key)!;
    t.ok(replayed.length >= ackedUpTo, `${key}: ${replayed.length} replayed >= ${ackedUpTo} acknowledged`);
    t.ok(
      replayed.every((n, i) => n === i + 1),
      `${key}: events 1..${replayed.length} in order, no gap`,
    );
    t.equal(journal.lastSequenceNumber(key), replayed.length, `${key}: the journal ends where the replay ended`);
  }
});

t.test('a persistent actor restarted from its journal and snapshot has the same state', async (t) => {
  const dir = tempDir(t);
  let journal = LmdbJournal.open(dir);
  let system = startActorSystem({ persistence: journal });
  let ref = reader(system, 'with-snapshots', { snapshotEvery: 10 });
  for (let n = 1; n <= 35; n++) tell(ref, { type: 'add', n });
  const live = await ask(ref, { type: 'events' }, 10_000);
  t.same(live, Array.from({ length: 35 }, (_, i) => i + 1));
  await waitUntil(async () => (await journal.latestSnapshot('with-snapshots'))?.sequenceNumber === 30, 'the snapshot at 30');
  ({ journal, system } = await restart(t, dir, system, journal));
  const replayed: number[] = [];
  ref = reader(system, 'with-snapshots', { snapshotEvery: 10, applied: replayed });
  t.same(await ask(ref, { type: 'events' }, 10_000), live, 'snapshot + tail gives the live state');
  t.same(replayed, [31, 32, 33, 34, 35], 'the actor replayed only the 5 events after the snapshot');
  tell(ref, { type: 'add', n: 36 });
  t.same((await ask(ref, { type: 'events' }, 10_000)).slice(-2), [35, 36], 'new events continue the sequence');
  t.equal(journal.lastSequenceNumber('with-snapshots'), 36);
});

t.test('a persistent actor spawned fresh starts without reading its journal, journals from 1, and a restart replays its events', async (t) => {
  const dir = tempDir(t);
  let journal = LmdbJournal.open(dir);
  const reads: string[] = [];
  // The journal as the system sees it, noting every read.
  const watched: PersistenceEngine = {
    events: (key, offset, limit) => (reads.push(`events ${key}`), journal.events(key, offset, limit)),
    latestSnapshot: (key) => (reads.push(`snapshot ${key}`), journal.latestSnapshot(key)),
    persist: (event) => journal.persist(event),
    takeSnapshot: (snapshot) => journal.takeSnapshot(snapshot),
  };
  let system = startActorSystem({ persistence: watched });
  let ref = spawnPersistentActor<number[], ReadMsg, Event>(system, {
    key: 'new-run',
    fresh: true,
    initialState: () => [],
    apply: (seen, event) => [...seen, event.n],
    command: async (_state, msg, ctx) => {
      if (msg.type === 'add') await ctx.persist({ n: msg.n, payload: '' });
      else tell(msg.replyTo, ctx.state);
    },
  });
  for (let n = 1; n <= 3; n++) tell(ref, { type: 'add', n });
  t.same(await ask(ref, { type: 'events' }, 10_000), [1, 2, 3]);
  t.same(reads, [], 'nothing was read from the journal');
  t.equal(journal.lastSequenceNumber('new-run'), 3, 'its events are journaled from sequence 1');
  ({ journal, system } = await restart(t, dir, system, journal));
  ref = reader(system, 'new-run');
  t.same(await ask(ref, { type: 'events' }, 10_000), [1, 2, 3], 'a restart replays them');
});

t.test('a persistence key that is empty or too long is refused with a clear error', async (t) => {
  const journal = LmdbJournal.open(tempDir(t));
  t.teardown(() => journal.close());
  t.throws(() => journal.events(''), /non-empty string/);
  await t.rejects(
    journal.persist({ key: 'k'.repeat(2000), sequenceNumber: 1, data: 1, tags: [], createdAt: 0, isDeleted: false }),
    /2000 bytes exceeds the limit of 1024 bytes/,
  );
});

t.test('a persistent actor with a journal form stores its events in that form, and replays them and events stored as they are', async (t) => {
  const dir = tempDir(t);
  const key = 'compact';
  /** Stored as `[n]`; events stored as they are (by an earlier version) replay too. */
  const compact: JournalForm<Event> = {
    stored: (event) => [event.n],
    restored: (stored: unknown) => (Array.isArray(stored) ? { n: stored[0] as number, payload: '' } : (stored as Event)),
  };
  let journal = LmdbJournal.open(dir);
  await journal.persist({ key, sequenceNumber: 1, data: { n: 1, payload: '' }, tags: [], createdAt: 0, isDeleted: false });
  let system = startActorSystem({ persistence: journal });
  let ref = reader(system, key, { journalForm: compact });
  t.same(await ask(ref, { type: 'events' }, 10_000), [1], 'an event stored as it is replays');
  tell(ref, { type: 'add', n: 2 });
  tell(ref, { type: 'add', n: 3 });
  t.same(await ask(ref, { type: 'events' }, 10_000), [1, 2, 3], 'the live state applies the events');
  t.same(
    journal.events(key).map((event) => event.data),
    [{ n: 1, payload: '' }, [2], [3]],
    'new events are journaled in the stored form',
  );
  ({ journal, system } = await restart(t, dir, system, journal));
  ref = reader(system, key, { journalForm: compact });
  t.same(await ask(ref, { type: 'events' }, 10_000), [1, 2, 3], 'a replay restores both forms');
});
