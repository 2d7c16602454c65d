import t from 'tap';
import type { OpInfo } from '@lzy/runtime';
import { criticalPath } from '../src/index.js';

/** An op that ran from `startedAt` to `endedAt`, taking the results of `after`. */
function op(opId: string, startedAt: number | undefined, endedAt: number | undefined, after: string[] = []): OpInfo {
  const info: OpInfo = { opId, name: opId, state: endedAt === undefined ? 'cancelled' : 'succeeded', attempts: 1 };
  if (startedAt !== undefined) info.startedAt = startedAt;
  if (endedAt !== undefined) info.endedAt = endedAt;
  if (after.length > 0) info.after = after;
  return info;
}

t.test('the critical path follows the input that ended last, back from the op that ended last', async (t) => {
  const ops = [op('a', 0, 10), op('b', 0, 30), op('c', 30, 40, ['a', 'b']), op('d', 0, 35), op('e', 40, 50, ['c'])];
  t.same(criticalPath(ops), ['b', 'c', 'e']);
});

t.test('an op that takes no other op’s result follows the op that ended last before it started', async (t) => {
  // The workflow awaited `a`, then called `b` with its value; `side` ended earlier.
  const ops = [op('side', 0, 5), op('a', 0, 20), op('b', 25, 40), op('c', 40, 60, ['b'])];
  t.same(criticalPath(ops), ['a', 'b', 'c']);
});

t.test('ops that never ended are not on it, and a run with none ended has none', async (t) => {
  t.same(criticalPath([op('a', 0, 10), op('b', 5, undefined, ['a'])]), ['a']);
  t.same(criticalPath([op('x', undefined, undefined)]), []);
  t.same(criticalPath([op('p', 10, 10), op('q', 10, 10)]).length, 2, 'ops that start and end in the same millisecond are each on it once');
});
