import t from 'tap';
import {
  ask,
  failures,
  spawnActor,
  startActorSystem,
  tell,
  ActorNotFoundError,
  type ActorRef,
  type Parent,
  type SupervisionPolicy,
} from '../src/index.js';
import { waitUntil } from './harness.js';

type Msg = { type: 'add'; by: number } | { type: 'boom' } | { type: 'get'; replyTo: ActorRef<number> };

/** A counter whose `boom` message throws; its state is the sum of `add`s since it (re)started. */
function fragile(parent: Parent, supervision: SupervisionPolicy, name = 'fragile') {
  return spawnActor<number, Msg>(parent, {
    name,
    initialState: () => 0,
    supervision,
    receive: (state, msg) => {
      if (msg.type === 'boom') throw new Error('boom');
      if (msg.type === 'add') return state + msg.by;
      tell(msg.replyTo, state);
      return state;
    },
  });
}

async function isStopped(ref: ActorRef<Msg>): Promise<boolean> {
  return ask(ref, { type: 'get' }, 1_000).then(
    () => false,
    (error) => error instanceof ActorNotFoundError,
  );
}

t.test('stop: an actor whose handler throws is stopped', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const ref = fragile(system, 'stop');
  tell(ref, { type: 'add', by: 1 });
  tell(ref, { type: 'boom' });
  await waitUntil(() => isStopped(ref), 'the actor to stop');
  t.ok(await isStopped(ref));
});

t.test('restart: state goes back to the initial state and later messages are handled', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const ref = fragile(system, 'restart');
  tell(ref, { type: 'add', by: 5 });
  tell(ref, { type: 'boom' });
  tell(ref, { type: 'add', by: 2 });
  t.equal(await ask(ref, { type: 'get' }, 2_000), 2, 'the 5 added before the failure is gone');
});

t.test('resume: the failed message is dropped and the state is kept', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const ref = fragile(system, 'resume');
  tell(ref, { type: 'add', by: 5 });
  tell(ref, { type: 'boom' });
  tell(ref, { type: 'add', by: 2 });
  t.equal(await ask(ref, { type: 'get' }, 2_000), 7);
});

t.test('escalate: the parent policy decides for the failed child', async (t) => {
  const system = startActorSystem({ name: 'escalation' });
  t.teardown(() => system.stop());
  const decisions: unknown[] = [];
  const onFailure = (failure: unknown) => decisions.push(failure);
  failures.subscribe(onFailure);
  t.teardown(() => failures.unsubscribe(onFailure));

  for (const [parentPolicy, expected] of [
    ['restart', 3],
    ['resume', 8],
  ] as const) {
    type SupMsg = { type: 'child'; replyTo: ActorRef<ActorRef<Msg>> };
    const supervisor = spawnActor<ActorRef<Msg> | undefined, SupMsg>(system, {
      name: `supervisor-${parentPolicy}`,
      initialState: () => undefined,
      supervision: parentPolicy,
      receive: (child, msg, ctx) => {
        const made = child ?? fragile(ctx.self, 'escalate', 'worker');
        tell(msg.replyTo, made);
        return made;
      },
    });
    const child = await ask(supervisor, { type: 'child' }, 1_000);
    tell(child, { type: 'add', by: 5 });
    tell(child, { type: 'boom' });
    tell(child, { type: 'add', by: 3 });
    t.equal(await ask(child, { type: 'get' }, 2_000), expected, `parent policy ${parentPolicy}`);
  }
  const escalated = decisions.filter((d) => (d as { child?: string }).child === 'worker');
  t.same(
    escalated.map((d) => [(d as { actor: string }).actor, (d as { directive: string }).directive]),
    [
      ['escalation://supervisor-restart', 'restart'],
      ['escalation://supervisor-resume', 'resume'],
    ],
    'the parent saw the failure of its child, named',
  );
});

t.test('escalate: a parent that stops its failed child keeps running', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  type SupMsg = { type: 'child'; replyTo: ActorRef<ActorRef<Msg>> } | { type: 'ping'; replyTo: ActorRef<string> };
  const supervisor = spawnActor<ActorRef<Msg> | undefined, SupMsg>(system, {
    name: 'supervisor',
    initialState: () => undefined,
    supervision: (failure) => (failure.child ? 'stop' : 'resume'),
    receive: (child, msg, ctx) => {
      if (msg.type === 'ping') {
        tell(msg.replyTo, 'pong');
        return child;
      }
      const made = child ?? fragile(ctx.self, 'escalate', 'worker');
      tell(msg.replyTo, made);
      return made;
    },
  });
  const child = await ask(supervisor, { type: 'child' }, 1_000);
  tell(child, { type: 'boom' });
  await waitUntil(() => isStopped(child), 'the child to be stopped by its parent');
  t.equal(await ask(supervisor, { type: 'ping' }, 1_000), 'pong', 'the parent still serves');
});

t.test('escalate to the top: a parent that escalates fails too, and the top-level actor stops', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  type SupMsg = { type: 'child'; replyTo: ActorRef<ActorRef<Msg>> };
  const supervisor = spawnActor<ActorRef<Msg> | undefined, SupMsg>(system, {
    name: 'escalating-supervisor',
    initialState: () => undefined,
    supervision: 'escalate',
    receive: (child, msg, ctx) => {
      const made = child ?? fragile(ctx.self, 'escalate', 'worker');
      tell(msg.replyTo, made);
      return made;
    },
  });
  const child = await ask(supervisor, { type: 'child' }, 1_000);
  tell(child, { type: 'boom' });
  await waitUntil(
    () => ask(supervisor, { type: 'child' }, 1_000).then(() => false, (e) => e instanceof ActorNotFoundError),
    'the supervisor to stop',
  );
  t.ok(await isStopped(child), 'the child stopped with it');
});

t.test('restart: an actor that keeps failing is stopped after 10 restarts in a row', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const ref = fragile(system, 'restart', 'hopeless');
  for (let i = 0; i < 10; i++) tell(ref, { type: 'boom' });
  t.equal(await ask(ref, { type: 'get' }, 2_000), 0, 'ten restarts are allowed');
  tell(ref, { type: 'boom' });
  await waitUntil(() => isStopped(ref), 'the eleventh failure to stop it');
  t.pass('stopped');
});
