import t from 'tap';
import type { OpSpec, RuntimeConnection, WorkflowEvent } from '@lzy/runtime';
import { ProgressTracker, type Progress } from '../src/progress-tracker.js';
import { ProgressView } from '../src/progress-view.js';

const spec = (id: string, inputs: string[] = []): OpSpec => ({
  id,
  name: id,
  module: 'file:///ops.js',
  exportName: id,
  args: inputs.map((opId) => ({ kind: 'op' as const, opId })),
  retries: { max: 0, backoffMs: 0 },
  env: {},
});

/** A connection that records what the tracker passes on and lets the test play the runtime's events. */
function fakeConnection() {
  let emit: (event: WorkflowEvent) => void = () => {};
  const connection = {
    tenant: 'team',
    startWorkflow: async (_name: string, onEvent: (event: WorkflowEvent) => void) => {
      emit = onEvent;
      return 'wf-1';
    },
    submit: async () => {},
    finish: async () => 'finished' as const,
  } as unknown as RuntimeConnection;
  return { connection, emit: (event: WorkflowEvent) => emit(event) };
}

const succeeded = (opId: string): WorkflowEvent => ({
  type: 'op-succeeded',
  workflowId: 'wf-1',
  opId,
  result: { uri: 'blob:x', size: 0, hash: '0'.repeat(64), codec: 'msgpack' },
  cached: false,
});

t.test('ops count as running once their inputs are done, waiting before; a replayed result counts once', async (t) => {
  const { connection, emit } = fakeConnection();
  const seen: Progress[] = [];
  const tracker = new ProgressTracker(connection, (_name, progress) => seen.push(progress));
  const events: WorkflowEvent[] = [];
  await tracker.startWorkflow('diamond', (event) => events.push(event));
  await tracker.submit('wf-1', [spec('a'), spec('b', ['a']), spec('c', ['a']), spec('d', ['b', 'c'])]);
  t.same(seen.at(-1), { total: 4, done: 0, running: 1, waiting: 3, failed: 0 });
  emit(succeeded('a'));
  t.same(seen.at(-1), { total: 4, done: 1, running: 2, waiting: 1, failed: 0 });
  const count = seen.length;
  emit(succeeded('a'));
  t.equal(seen.length, count, 'the replayed result changed nothing');
  t.equal(events.length, 2, 'every event still reaches the client');
  emit(succeeded('b'));
  emit(succeeded('c'));
  emit(succeeded('d'));
  await tracker.finish('wf-1');
  t.same(seen.at(-1), { total: 4, done: 4, running: 0, waiting: 0, failed: 0, ended: 'finished' });
});

t.test('on a TTY the bar is redrawn in place and op output goes above it', async (t) => {
  const out: string[] = [];
  const view = new ProgressView({ isTTY: true, write: (text: string) => out.push(text) });
  view.show('wc', { total: 4, done: 1, running: 2, waiting: 1, failed: 0 });
  t.equal(out.at(-1), '\r\x1b[Kwc [######..................] 1/4 ops done, 2 running, 1 waiting');
  view.print('[count#ab] hello\n');
  t.equal(out.at(-1), '\r\x1b[K[count#ab] hello\nwc [######..................] 1/4 ops done, 2 running, 1 waiting');
  view.show('wc', { total: 4, done: 4, running: 0, waiting: 0, failed: 0, ended: 'finished' });
  t.equal(out.at(-1), '\r\x1b[Kwc: 4/4 ops done, 0 running, 0 waiting, finished\n', 'the end replaces the bar with a line');
});

t.test('off a TTY progress is plain lines, at most one a second, always the end', async (t) => {
  const out: string[] = [];
  let now = 0;
  const view = new ProgressView({ isTTY: false, write: (text: string) => out.push(text) }, () => now);
  const at = (done: number, extra: Partial<Progress> = {}): Progress => ({ total: 3, done, running: 3 - done, waiting: 0, failed: 0, ...extra });
  view.show('wc', at(0));
  now = 500;
  view.show('wc', at(1));
  now = 1_100;
  view.show('wc', at(2));
  now = 1_200;
  view.show('wc', at(3, { ended: 'finished' }));
  t.same(out, [
    'lzy: wc: 0/3 ops done, 3 running, 0 waiting\n',
    'lzy: wc: 2/3 ops done, 1 running, 0 waiting\n',
    'lzy: wc: 3/3 ops done, 0 running, 0 waiting, finished\n',
  ]);
});
