// Whiteboards: named records of a workflow run whose fields are assigned once, stored when the
// run succeeds and found later by name, tags and time.
import t from 'tap';
import { Lzy, WhiteboardError } from '../src/index.js';
import { fails, inc, square } from './fixtures/ops.js';
import { tempDir } from './harness.js';

type Test = { teardown(fn: () => unknown): void };

async function start(t: Test) {
  const lzy = await Lzy.start({
    dataDir: tempDir(t),
    pools: [{ name: 'default', cpu: 2, memoryMb: 2048, slots: 2, maxNodes: 1, idleTimeoutMs: 60_000 }],
    onLog: () => {},
  });
  t.teardown(() => lzy.close());
  return lzy;
}

t.test("a whiteboard's fields are assigned once, and it is stored with their values when the workflow succeeds", async (t) => {
  const lzy = await start(t);
  let secondAssignment: unknown;
  const result = await lzy.workflow('training', async (wf) => {
    const board = wf.whiteboard<{ model: number; params: Map<string, bigint>; note: string }>('experiment', { tags: ['nightly', 'v2'] });
    const model = square(inc(2));
    board.model = model;
    board.params = new Map([['epochs', 10n]]);
    board.note = 'first try';
    try {
      board.note = 'second try';
    } catch (error) {
      secondAssignment = error;
    }
    t.equal(board.note, 'first try', 'the field keeps its first value');
    t.same(Object.keys(board), ['model', 'params', 'note']);
    return model;
  });
  t.equal(result, 9);
  t.type(secondAssignment, WhiteboardError);
  t.match((secondAssignment as Error).message, /field note of whiteboard experiment is already assigned/);

  const [found, ...others] = await lzy.whiteboards({ name: 'experiment' });
  t.equal(others.length, 0);
  t.match(found, { name: 'experiment', tags: ['nightly', 'v2'], workflowName: 'training', fields: { model: 9, note: 'first try' } });
  t.same(found!.fields.params, new Map([['epochs', 10n]]), 'values keep their types');
  t.type(found!.createdAt, Date);
  t.type(found!.finalizedAt, Date);
});

t.test('the whiteboard of a workflow that fails is not stored', async (t) => {
  const lzy = await start(t);
  await t.rejects(
    lzy.workflow('doomed', async (wf) => {
      const board = wf.whiteboard('doomed-board');
      board.before = 1;
      board.failure = fails('on purpose');
    }),
    { name: 'OpError' },
  );
  t.same(await lzy.whiteboards({ name: 'doomed-board' }), []);
});

t.test('whiteboards are found by name, by all of their tags and by creation time, newest first', async (t) => {
  const lzy = await start(t);
  const create = (name: string, tags: string[], value: number) =>
    lzy.workflow(`make-${name}`, async (wf) => {
      wf.whiteboard(name, { tags }).value = inc(value);
    });
  await create('a', ['x'], 0);
  await create('b', ['x', 'y'], 1);
  await create('c', ['y'], 2);
  await create('a', ['x', 'y'], 3);
  const names = async (filter: Parameters<Lzy['whiteboards']>[0]) => (await lzy.whiteboards(filter)).map((b) => `${b.name}${b.fields.value}`);
  t.same(await names({}), ['a4', 'c3', 'b2', 'a1'], 'all, newest first');
  t.same(await names({ name: 'a' }), ['a4', 'a1']);
  t.same(await names({ tags: ['x', 'y'] }), ['a4', 'b2'], 'those with every tag asked for');
  t.same(await names({ tags: ['y'], name: 'c' }), ['c3']);
  // Times are the whiteboards' own: b was created at or after a1's time and before c's.
  const [b] = await lzy.whiteboards({ name: 'b' });
  t.same(await names({ since: b!.createdAt }), ['a4', 'c3', 'b2'], 'those created at or after a time');
  t.same(await names({ until: b!.createdAt }), ['a1'], 'those created before a time');
  t.same(await names({ tags: ['z'] }), []);
});

t.test('a whiteboard refuses bad names, tags and values at once', async (t) => {
  const lzy = await start(t);
  const checked = await lzy.workflow('checks', async (wf) => {
    t.throws(() => wf.whiteboard(''), WhiteboardError);
    t.throws(() => wf.whiteboard('x', { tags: [''] }), WhiteboardError);
    const board = wf.whiteboard('x');
    t.throws(() => {
      board.fn = () => 1;
    }, { name: 'UnencodableValueError', message: /value is a function/ });
    t.throws(() => delete board.fn, WhiteboardError);
    return 'checked';
  });
  t.equal(checked, 'checked', 'the checks ran inside the workflow, which then succeeded');
});
