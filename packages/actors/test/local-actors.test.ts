import t from 'tap';
import {
  ActorNotFoundError,
  AskTimeoutError,
  ask,
  deadLetters,
  spawnActor,
  startActorSystem,
  stopActor,
  tell,
  type ActorRef,
} from '../src/index.js';
import { startFixture, waitUntil } from './harness.js';

type CounterMsg =
  | { type: 'add'; by: number }
  | { type: 'get'; replyTo: ActorRef<number> }
  | { type: 'ignore'; replyTo: ActorRef<number> };

function counter(parent: Parameters<typeof spawnActor>[0], name = 'counter') {
  return spawnActor<number, CounterMsg>(parent, {
    name,
    initialState: () => 0,
    receive: (state, msg) => {
      if (msg.type === 'add') return state + msg.by;
      if (msg.type === 'get') tell(msg.replyTo, state);
      return state;
    },
  });
}

/** The dead letters published from now until the end of test `t`, in order. */
function deadLettersOf(t: { teardown(fn: () => void): void }): unknown[] {
  const dead: unknown[] = [];
  const onDead = (message: unknown) => dead.push(message);
  deadLetters.subscribe(onDead);
  t.teardown(() => deadLetters.unsubscribe(onDead));
  return dead;
}

t.test('messages told to an actor are handled one at a time, in order', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const seen: number[] = [];
  // Handlers running now, and the most that ever ran at once: counted outside the actor's state,
  // which a second handler started too early would read just the same.
  let running = 0;
  let mostAtOnce = 0;
  const log = spawnActor<undefined, { n: number } | { type: 'count'; replyTo: ActorRef<number[]> }>(system, {
    initialState: () => undefined,
    receive: async (state, msg) => {
      if ('type' in msg) {
        tell(msg.replyTo, seen);
        return state;
      }
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(msg.n);
      running -= 1;
      return state;
    },
  });
  for (let n = 0; n < 200; n++) tell(log, { n });
  const result = await ask(log, { type: 'count' }, 5_000);
  t.same(result, Array.from({ length: 200 }, (_, n) => n));
  t.equal(mostAtOnce, 1, 'no message was handled while another was');
});

t.test('ask resolves with the reply typed by the message', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const ref = counter(system);
  tell(ref, { type: 'add', by: 40 });
  tell(ref, { type: 'add', by: 2 });
  const value: number = await ask(ref, { type: 'get' }, 1_000);
  t.equal(value, 42);
});

t.test('an ask that gets no reply rejects with a clear timeout error', async (t) => {
  const system = startActorSystem({ name: 'timeouts' });
  t.teardown(() => system.stop());
  const ref = counter(system, 'silent');
  const error = await ask(ref, { type: 'ignore' }, 50).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(error, AskTimeoutError);
  t.equal((error as AskTimeoutError).code, 'ASK_TIMEOUT');
  t.match((error as Error).message, /no reply from timeouts\/silent within 50 ms/);
  await t.rejects(ask(ref, { type: 'get' }, 0), RangeError, 'a timeout must be positive');
  await t.rejects(ask(ref, { type: 'get' }, 2 ** 31), /from 1 to 2147483647 ms/, 'a timeout longer than a timer can hold is refused');
});

t.test('a program whose actor system stops with an ask unanswered exits at once: the ask neither holds it nor goes on', async (t) => {
  const program = startFixture(t, 'unanswered-ask');
  await program.waitForLine((line) => line === 'stopped', 'the program to stop its actor system');
  // The ask's timeout is 10 minutes: a timer left holding the process would keep it alive that long.
  let exit: Awaited<typeof program.exited> | undefined;
  void program.exited.then((result) => (exit = result));
  t.same(await waitUntil(() => exit, 'the program to exit on its own', 30_000), { code: 0, signal: null });
});

t.test('an ask in flight fails at once when its actor stops without answering', async (t) => {
  const system = startActorSystem({ name: 'stopping' });
  t.teardown(() => system.stop());
  const ref = counter(system, 'leaving');
  // Were it left waiting, it would fail with a timeout instead.
  const pending = ask(ref, { type: 'ignore' }, 10_000);
  stopActor(ref);
  await t.rejects(pending, ActorNotFoundError);
  t.equal(await ask(counter(system, 'staying'), { type: 'get' }, 1_000), 0, 'asks of other actors are answered');
});

t.test('asking a stopped actor fails at once and tells go to dead letters', async (t) => {
  const system = startActorSystem({ name: 'stopped' });
  t.teardown(() => system.stop());
  const ref = counter(system, 'gone');
  stopActor(ref);
  await t.rejects(ask(ref, { type: 'get' }, 1_000), ActorNotFoundError);
  const dead = deadLettersOf(t);
  tell(ref, { type: 'add', by: 1 });
  t.same(dead, [{ to: 'stopped/gone', message: { type: 'add', by: 1 } }]);
});

t.test('a ref used before its actor stopped goes to dead letters, and reaches an actor spawned again under its name', async (t) => {
  const system = startActorSystem({ name: 'respawned' });
  t.teardown(() => system.stop());
  const first = counter(system, 'again');
  tell(first, { type: 'add', by: 5 });
  t.equal(await ask(first, { type: 'get' }, 1_000), 5);
  stopActor(first);
  const dead = deadLettersOf(t);
  tell(first, { type: 'add', by: 1 });
  t.same(dead, [{ to: 'respawned/again', message: { type: 'add', by: 1 } }]);
  await t.rejects(ask(first, { type: 'get' }, 1_000), ActorNotFoundError);
  counter(system, 'again');
  tell(first, { type: 'add', by: 2 });
  t.equal(await ask(first, { type: 'get' }, 1_000), 2, 'the old ref names the path, where the new actor now is');
});

t.test('actors spawn children and a stopped parent stops its children', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  type ParentMsg = { type: 'child'; replyTo: ActorRef<ActorRef<CounterMsg>> };
  const parent = spawnActor<ActorRef<CounterMsg> | undefined, ParentMsg>(system, {
    name: 'parent',
    initialState: () => undefined,
    receive: (child, msg, ctx) => {
      const made = child ?? counter(ctx.self, 'child');
      tell(msg.replyTo, made);
      return made;
    },
  });
  const child = await ask(parent, { type: 'child' }, 1_000);
  tell(child, { type: 'add', by: 5 });
  t.equal(await ask(child, { type: 'get' }, 1_000), 5);
  stopActor(parent);
  await waitUntil(
    () => ask(child, { type: 'get' }, 1_000).then(() => false, (e) => e instanceof ActorNotFoundError),
    'the child to stop with its parent',
  );
  t.pass('the child stopped');
});

t.test('actors spawned without a name never clash with a sibling, however many there are', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  // nact names an unnamed actor after a random 32-bit number: with the same draw twice, the second spawn threw.
  const random = Math.random;
  Math.random = () => 0.5;
  t.teardown(() => void (Math.random = random));
  const refs: Array<ActorRef<{ type: 'get'; replyTo: ActorRef<number> }>> = [];
  for (let i = 0; i < 3; i++) {
    refs.push(
      spawnActor<number, { type: 'get'; replyTo: ActorRef<number> }>(system, {
        initialState: () => i,
        receive: (state, msg) => (tell(msg.replyTo, state), state),
      }),
    );
  }
  Math.random = random;
  t.same(await Promise.all(refs.map((ref) => ask(ref, { type: 'get' }, 5_000))), [0, 1, 2], 'each answers with its own state');
});

t.test('spawning refuses a name a sibling has, a name with characters a path cannot hold, and a stopped parent', async (t) => {
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const parent = counter(system, 'parent');
  counter(parent, 'child');
  t.throws(() => counter(parent, 'child'), /child actor of name child already exists/);
  t.throws(() => counter(parent, 'a/b'), /invalid actor name "a\/b"/);
  stopActor(parent);
  t.throws(() => counter(parent, 'late'), /cannot spawn late: its parent has stopped/);
  const again = counter(system, 'parent');
  t.equal(await ask(again, { type: 'get' }, 1_000), 0, 'a stopped actor frees its name');
});

t.test("an actor's context names its path, and a failing actor's supervision sees it", async (t) => {
  const system = startActorSystem({ name: 'paths' });
  t.teardown(() => system.stop());
  const seen: string[] = [];
  const parent = spawnActor<undefined, { type: 'go'; replyTo: ActorRef<string> }>(system, {
    name: 'parent',
    initialState: () => undefined,
    receive: (state, msg, ctx) => {
      const child = spawnActor<undefined, { type: 'fail' }>(ctx.self, {
        name: 'child',
        initialState: () => undefined,
        receive: () => {
          throw new Error('boom');
        },
        supervision: (failure) => (seen.push(failure.actor), 'stop'),
      });
      tell(child, { type: 'fail' });
      tell(msg.replyTo, ctx.path);
      return state;
    },
  });
  t.equal(await ask(parent, { type: 'go' }, 1_000), 'paths://parent');
  await waitUntil(() => seen.length > 0, 'the child to fail');
  t.same(seen, ['paths://parent/child']);
});
