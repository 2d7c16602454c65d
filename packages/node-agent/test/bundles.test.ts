// Ops shipped as bundles: the agent fetches a bundle from storage by its hash, checks it, keeps it
// in its cache dir, and its runners import it from there.
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { tell } from '@lzy/actors';
import { blobUri, decodeValue, hashBytes, type BundleRef } from '../src/protocol/index.js';
import { startFakeRuntime, type FakeRuntime } from './fake-runtime.js';
import { startAgent, tempDir } from './harness.js';

/** An op module as the SDK ships it: one ES module file, here written by hand. */
const SOURCE = `export const where = async (n) => ({ n, url: import.meta.url, cwd: process.cwd() });\n`;

/** Stores `source` in the fake runtime's storage as a bundle; `bytes` lets a test store other bytes under its name. */
function storeBundle(runtime: FakeRuntime, source: string, bytes = Buffer.from(source)): BundleRef {
  const hash = hashBytes(Buffer.from(source));
  runtime.blobs.set(blobUri(hash), bytes);
  return { uri: blobUri(hash), hash, size: bytes.length };
}

function readsOf(runtime: FakeRuntime, uri: string): number {
  return runtime.storageRequests.filter((request) => request.type === 'read' && request.uri === uri).length;
}

t.test('attempts of a shipped op run its bundle from the cache dir, fetched once however many ask at once or later', async (t) => {
  const runtime = await startFakeRuntime(t);
  const cacheDir = tempDir(t);
  startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '2', '--cache-dir', cacheDir]);
  const bundle = storeBundle(runtime, SOURCE);
  const module = 'file:///nowhere/on/this/node/ops.js';
  const ids = await Promise.all([1, 2, 3, 4, 5].map((n) => runtime.run({ exportName: 'where', module, bundle, args: [n] })));
  const outcomes = await Promise.all(ids.map((id) => runtime.outcome(id)));
  const cached = pathToFileURL(join(cacheDir, `${bundle.hash}.mjs`)).href;
  outcomes.forEach((outcome, i) => {
    t.ok(outcome.ok, `attempt ${i + 1} succeeded`);
    if (outcome.ok) t.match(decodeValue(outcome.result.inline!), { n: i + 1, url: cached });
  });
  const later = await runtime.outcome(await runtime.run({ exportName: 'where', module, bundle, args: [6] }));
  t.ok(later.ok && t.match(decodeValue(later.result.inline!), { n: 6, url: cached }), 'an attempt sent once the bundle is here runs it too');
  t.equal(readsOf(runtime, bundle.uri), 1, 'the bundle was read from storage once');
  t.same(readdirSync(cacheDir), [`${bundle.hash}.mjs`], 'the cache holds the bundle under its hash, and no temporary file');
});

t.test('a bundle whose bytes do not match its hash is refused with BAD_OP, and the agent goes on', async (t) => {
  const runtime = await startFakeRuntime(t);
  const cacheDir = tempDir(t);
  startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '1', '--cache-dir', cacheDir]);
  const forged = storeBundle(runtime, SOURCE, Buffer.from(SOURCE.replace('n,', 'n: -n,')));
  const outcome = await runtime.outcome(await runtime.run({ exportName: 'where', bundle: forged, args: [1] }));
  t.match(outcome, {
    ok: false,
    failure: { code: 'BAD_OP', retryable: false, message: new RegExp(`^the bundle of op where \\(module .*, ${forged.uri}\\) was refused: .*has sha256 [0-9a-f]{64}; its ref says ${forged.hash}`) },
  });
  t.notOk(existsSync(join(cacheDir, `${forged.hash}.mjs`)), 'nothing was cached under its name');

  const good = storeBundle(runtime, `${SOURCE}// another bundle\n`);
  const next = await runtime.outcome(await runtime.run({ exportName: 'where', bundle: good, args: [2] }));
  t.ok(next.ok && (decodeValue(next.result.inline!) as { n: number }).n === 2, 'the next shipped op runs');
});

t.test('a bundle missing from storage fails the attempt with a retryable STORAGE_ERROR', async (t) => {
  const runtime = await startFakeRuntime(t);
  startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '1', '--cache-dir', tempDir(t)]);
  const bundle = storeBundle(runtime, SOURCE);
  runtime.blobs.delete(bundle.uri);
  const outcome = await runtime.outcome(await runtime.run({ exportName: 'where', bundle, args: [1] }));
  t.match(outcome, { ok: false, failure: { code: 'STORAGE_ERROR', retryable: true, message: /^the bundle of op where .* could not be fetched: no blob/ } });

  storeBundle(runtime, SOURCE);
  const again = await runtime.outcome(await runtime.run({ exportName: 'where', bundle, args: [2] }));
  t.ok(again.ok, 'once the bundle is there, the next attempt fetches it');
});

t.test('without --cache-dir the agent keeps bundles in a temporary directory that it removes when it exits', async (t) => {
  const runtime = await startFakeRuntime(t);
  const agent = startAgent(t, ['--server', runtime.url, '--token', runtime.token, '--slots', '1']);
  const bundle = storeBundle(runtime, SOURCE);
  const outcome = await runtime.outcome(await runtime.run({ exportName: 'where', bundle, args: [1] }));
  if (!outcome.ok) throw new Error(`the op failed: ${outcome.failure.message}`);
  const { url } = decodeValue(outcome.result.inline!) as { url: string };
  const dir = join(fileURLToPath(url), '..');
  t.equal(join(dir, '..'), tmpdir(), 'a directory of its own in the temporary directory');
  tell(await runtime.agent(), { type: 'shutdown' });
  t.match(await agent.exited, { code: 0 });
  t.notOk(existsSync(dir), 'the directory is gone');
});
