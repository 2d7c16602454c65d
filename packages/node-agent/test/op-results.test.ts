// What an op's caller gets back: results and arguments as values, large ones through storage,
// the attempt's environment, and clear BAD_OP failures for ops that cannot be found.
import t from 'tap';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { tell } from '@lzy/actors';
import { CHUNK_BYTES, DataRef, decodeValue, encodeValue, INLINE_LIMIT, refFor, runMessage, storedRef, uriOf, type RunAttempt } from '../src/protocol/index.js';
import { OPS, startFakeRuntime, TENANT, type FakeRuntime } from './fake-runtime.js';
import { startAgent, type Teardown } from './harness.js';

/** A fake runtime and an agent of it, started as the runtime and `lzy agent` start one: the token in `LZY_TOKEN`. */
async function agentWith(t: Teardown, slots = 1): Promise<FakeRuntime> {
  const runtime = await startFakeRuntime(t);
  startAgent(t, ['--server', runtime.url, '--slots', String(slots)], { LZY_TOKEN: runtime.token });
  return runtime;
}

function valueOf(outcome: { ok: boolean; result?: DataRef }): unknown {
  if (!outcome.ok || !outcome.result?.inline) throw new Error(`expected an inline result, got ${JSON.stringify(outcome)}`);
  return decodeValue(outcome.result.inline);
}

t.test('an op returns its result inline, whether exported as a function or marked with lzy.op', async (t) => {
  const runtime = await agentWith(t);
  const sum = await runtime.outcome(await runtime.run({ exportName: 'add', args: [2, 3] }));
  t.equal(valueOf(sum), 5);
  t.match(sum, { ok: true, result: { codec: 'msgpack', size: encodeValue(5).length, hash: /^[0-9a-f]{64}$/ } });
  t.equal(sum.ok && sum.result.uri, undefined, 'an inline result is stored nowhere, so it has no URI');
  const greeting = await runtime.outcome(await runtime.run({ exportName: 'greet', args: ['node'] }));
  t.equal(valueOf(greeting), 'hello, node');
  const dates = new Set([new Date(Date.UTC(1969, 6, 20)), new Date(Date.UTC(1972, 11, 11))]);
  const years = await runtime.outcome(await runtime.run({ exportName: 'yearsOf', args: [dates] }));
  t.same(valueOf(years), new Set([1969, 1972]), 'Sets and Dates survive both ways');
});

t.test("an attempt sees its env, the next attempt on the same runner does not, and no attempt sees the agent's token", async (t) => {
  const runtime = await agentWith(t);
  const withEnv = await runtime.outcome(await runtime.run({ exportName: 'readEnv', args: ['LZY_TEST_COLOR'], env: { LZY_TEST_COLOR: 'teal' } }));
  t.equal(valueOf(withEnv), 'teal');
  const after = await runtime.outcome(await runtime.run({ exportName: 'readEnv', args: ['LZY_TEST_COLOR'] }));
  t.equal(valueOf(after), null, 'the env was restored after the attempt');
  const token = await runtime.outcome(await runtime.run({ exportName: 'readEnv', args: ['LZY_TOKEN'] }));
  t.equal(valueOf(token), null);
  const env = valueOf(await runtime.outcome(await runtime.run({ exportName: 'readAllEnv' }))) as Record<string, string>;
  t.ok(Object.keys(env).length > 0, 'the attempt sees an environment');
  t.same(
    Object.entries(env).filter(([, value]) => value.includes(runtime.token)),
    [],
    'no variable the op can read holds the token',
  );
});

t.test('a large argument is read from storage in chunks and a large result is written there', async (t) => {
  const runtime = await agentWith(t);
  const big = new Uint8Array(2 * CHUNK_BYTES + 12_345).fill(9);
  big[big.length - 1] = 4;
  const ref = runtime.store(big);
  const read = await runtime.outcome(await runtime.run({ exportName: 'sizeOf', refs: [ref] }));
  t.same(valueOf(read), { length: big.length, first: 9, last: 4 });
  const reads = runtime.storageRequests.filter((request) => request.type === 'read');
  t.equal(reads.length, 3, 'three chunks');
  t.ok(reads.every((request) => request.type === 'read' && request.uri === ref.uri && request.length <= CHUNK_BYTES));

  const size = CHUNK_BYTES + 500_000;
  const made = await runtime.outcome(await runtime.run({ exportName: 'makeBytes', args: [size, 7] }));
  if (!made.ok) throw new Error(made.failure.message);
  t.equal(made.result.inline, undefined, 'a result over INLINE_LIMIT is not inline');
  t.ok(made.result.size > INLINE_LIMIT);
  const stored = runtime.blobs.get(uriOf(made.result));
  t.ok(stored, 'the result was stored under its URI before the attempt finished');
  t.ok(Buffer.from(decodeValue(stored!) as Uint8Array).equals(Buffer.alloc(size, 7)), 'the stored blob decodes to the bytes the op returned');
  const writes = runtime.storageRequests.filter((request) => request.type === 'write');
  t.same(
    writes.map((request) => request.type === 'write' && [request.offset, request.bytes.length, request.last]),
    [
      [0, CHUNK_BYTES, false],
      [CHUNK_BYTES, made.result.size - CHUNK_BYTES, true],
    ],
  );
});

t.test('an argument whose stored bytes do not match its hash fails with BAD_INPUT', async (t) => {
  const runtime = await agentWith(t);
  const ref = runtime.store(new Uint8Array(INLINE_LIMIT + 10));
  const stored = runtime.blobs.get(ref.uri)!;
  stored[100] = stored[100]! ^ 1;
  const outcome = await runtime.outcome(await runtime.run({ exportName: 'sizeOf', refs: [ref] }));
  t.match(outcome, { ok: false, failure: { code: 'BAD_INPUT', message: /could not be read: .*has sha256 [0-9a-f]{64}; its ref says/ } });
  t.equal(valueOf(await runtime.outcome(await runtime.run({ exportName: 'add', args: [1, 1] }))), 2);
});

t.test('an op that cannot be found fails with BAD_OP, not retryable, naming the module, the export and the fix', async (t) => {
  const runtime = await agentWith(t);
  const missingModule = new URL('./no-such-module.js', OPS).href;
  const broken = new URL('./broken-module.js', OPS).href;
  const cases = [
    { module: missingModule, exportName: 'add', message: /cannot import op module .*no-such-module\.js \(export 'add'\).*Fix:/ },
    { module: broken, exportName: 'never', message: /cannot import op module .*broken-module\.js.*broken on purpose.*Fix:/ },
    { module: OPS, exportName: 'nope', message: /has no export 'nope' \(it exports .*add.*\)\. Fix: export the op under that name/ },
    { module: OPS, exportName: 'notAnOp', message: /export 'notAnOp' of .*ops\.js is a number, not an op or a function\. Fix:/ },
  ];
  for (const { module, exportName, message } of cases) {
    const outcome = await runtime.outcome(await runtime.run({ module, exportName }));
    t.match(outcome, { ok: false, failure: { code: 'BAD_OP', retryable: false, message } }, exportName);
  }
  t.equal(valueOf(await runtime.outcome(await runtime.run({ exportName: 'add', args: [1, 2] }))), 3, 'the runner goes on serving');
});

t.test('a value encodes to the same bytes in every version, so equal inputs keep their hashes (and cache keys)', async (t) => {
  const golden: Array<[unknown, string]> = [
    [5, '05'],
    [-1, 'ff'],
    [1.5, 'cb3ff8000000000000'],
    [2 ** 40, 'cb4270000000000000'],
    ['a', 'a161'],
    ['', 'a0'],
    [true, 'c3'],
    [false, 'c2'],
    [null, 'c0'],
    [undefined, 'd40000'],
    [12345678901234567890n, 'cfab54a98ceb1f0ad2'],
  ];
  for (const [value, hex] of golden) t.equal(encodeValue(value).toString('hex'), hex, `${typeof value} ${String(value)}`);
  const shared = { x: 1 };
  const value = { a: [shared, shared], m: new Map([['k', 1]]) };
  t.same(decodeValue(encodeValue(value)), value, 'an object with a shared part and a Map comes back');
});

t.test('a value ref is accepted inline or stored (or both, as earlier versions journaled them), never with neither', async (t) => {
  const check = TypeCompiler.Compile(DataRef);
  const bytes = encodeValue(5);
  const inline = refFor(bytes);
  t.ok(check.Check(inline), 'an inline ref');
  t.ok(check.Check(storedRef(inline.hash, inline.size)), 'a stored ref');
  t.ok(check.Check({ ...inline, uri: `blob:${inline.hash}` }), 'an inline ref that also names a blob');
  t.notOk(check.Check({ size: inline.size, hash: inline.hash, codec: 'msgpack' }), 'a ref with neither bytes nor a URI');
  t.notOk(check.Check({ ...inline, extra: 1 }), 'a ref with a field no ref has');
  t.throws(() => uriOf(inline), { message: /travels inline and is stored nowhere/ });
});

t.test('attempts of one module travel with the module listed once; an attempt naming a module the message lacks fails with BAD_OP, and the others run', async (t) => {
  const runtime = await agentWith(t);
  const attempt = (attemptId: string, exportName: string, arg: number): RunAttempt => ({
    attemptId,
    tenant: TENANT,
    opName: exportName,
    module: OPS,
    exportName,
    args: [refFor(encodeValue(arg))],
    env: {},
  });
  const run = runMessage([attempt('at-a', 'add', 1), attempt('at-b', 'sizeOf', 2), attempt('at-c', 'add', 3)]);
  t.same(run.modules, [{ url: OPS }], 'the module is listed once');
  t.same(run.attempts.map((entry) => entry.module), [0, 0, 0]);
  run.attempts[1]!.module = 7;
  tell(await runtime.agent(), run);
  t.match(await runtime.outcome('at-b'), {
    ok: false,
    failure: { code: 'BAD_OP', name: 'BadRunMessageError', message: 'attempt at-b of op sizeOf was not started: it names module 7 of a run message that lists 1' },
  });
  t.ok((await runtime.outcome('at-a')).ok);
  t.ok((await runtime.outcome('at-c')).ok);
});
