// The file store's signed URLs, served by a real HTTP server on 127.0.0.1 over blobs in a temp dir:
// what a node may do with a URL it was given, and what it may not.
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { hashBytes } from '@lzy/node-agent/protocol';
import { FileStore } from '../src/storage/file-store.js';
import { serveFileBlobs } from '../src/storage/file-store-http.js';
import { SignedBlobUrls } from '../src/storage/signed-blob-urls.js';
import { tempDir } from './harness.js';

const dir = tempDir(t);
const urls = new SignedBlobUrls();
const store = new FileStore(join(dir, 'blobs'), urls);
const server = createServer((req, res) => {
  if (!serveFileBlobs(store, urls, req, res)) res.writeHead(404).end('not a blob path');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const alices = Buffer.from('alice: the weights of her model');
const bobs = Buffer.from('bob: his private ledger, which nobody else reads');
const aliceRef = await store.put('alice', 'wf-a', alices);
const bobRef = await store.put('bob', 'wf-b', bobs);

const get = (path: string) => fetch(new URL(path, base));
const put = (path: string, body: Uint8Array) => fetch(new URL(path, base), { method: 'PUT', body });
const stagedFiles = () => readdirSync(join(dir, 'blobs'), { recursive: true }).filter((name) => String(name).endsWith('.upload'));

t.test('a signed read URL gives its blob, and only until it expires', async (t) => {
  const path = await store.presignRead('alice', aliceRef.uri!);
  const response = await get(path);
  t.equal(response.status, 200);
  t.same(Buffer.from(await response.arrayBuffer()), alices);
  const expired = urls.sign({ method: 'GET', tenant: 'alice', hash: aliceRef.hash }, Date.now() - 16 * 60_000);
  const refused = await get(expired);
  t.equal(refused.status, 403);
  t.match(await refused.text(), /expired/);
});

t.test("a URL for one tenant's blob does not open another tenant's blob, however it is edited", async (t) => {
  const path = await store.presignRead('alice', aliceRef.uri!);
  const bobsPath = path.replace(`/alice/${aliceRef.hash}`, `/bob/${bobRef.hash}`);
  t.equal((await get(bobsPath)).status, 403, 'the tenant and blob edited');
  t.equal((await get(path.replace('/alice/', '/bob/'))).status, 403, 'the tenant edited');
  t.equal((await get(path.replace(/signature=[^&]+/, 'signature=x'))).status, 403, 'the signature edited');
  t.equal((await get(path.replace(/signature=[^&]+&?/, ''))).status, 403, 'the signature left out');
  t.equal((await get(`/blobs/bob/${bobRef.hash}`)).status, 403, 'no signature at all');
  await t.rejects(store.presignRead('alice', bobRef.uri!), { code: 'ENOENT' }, "alice gets no URL for bob's blob");
  const otherRuntime = new SignedBlobUrls().sign({ method: 'GET', tenant: 'bob', hash: bobRef.hash });
  t.equal((await get(otherRuntime)).status, 403, "another runtime's key signs nothing here");
});

t.test('a signed write URL takes exactly its bytes; the blob appears whole or not at all', async (t) => {
  const bytes = Buffer.from('an output of alice, written by her node');
  const hash = hashBytes(bytes);
  const path = await store.presignWrite('alice', 'wf-a', hash, bytes.length);
  t.equal((await get(path)).status, 403, 'a write URL does not read');
  t.equal((await put(path.replace(/size=\d+/, `size=${bytes.length + 1}`), Buffer.concat([bytes, Buffer.from('!')]))).status, 403, 'its size edited');
  const longer = await put(path, Buffer.concat([bytes, Buffer.from('!')]));
  t.equal(longer.status, 400, 'more bytes than signed');
  const wrong = await put(path, Buffer.from(bytes).fill(0x41));
  t.equal(wrong.status, 400, 'other bytes of the signed size');
  t.match(await wrong.text(), /hashes to/);
  t.notOk(store.has('alice', `blob:${hash}`), 'nothing is stored after the refusals');
  await t.rejects(store.commit('alice', 'wf-a', hash, bytes.length), /not uploaded/);
  const written = await put(path, bytes);
  t.equal(written.status, 200);
  await store.commit('alice', 'wf-a', hash, bytes.length);
  t.same(await store.get('alice', `blob:${hash}`), bytes);
  t.notOk(existsSync(store.path('bob', hash)), "bob's blobs are apart");
  t.same(stagedFiles(), [], 'no staged file is left behind');
  await t.rejects(store.commit('alice', 'wf-a', hash, bytes.length + 1), /bytes, not the/);
});

t.test('a write URL for a new blob stores exactly its bytes under the hash they have, and answers it; the tenant is the signed one', async (t) => {
  const bytes = Buffer.from('a large output of alice, named only once it has arrived');
  const hash = hashBytes(bytes);
  const path = await store.presignWrite('alice', 'wf-a', undefined, bytes.length);
  t.equal((await get(path)).status, 403, 'a write URL does not read');
  t.equal((await put(path.replace('/alice/', '/bob/'), bytes)).status, 403, 'the tenant edited');
  t.equal((await put(path, Buffer.concat([bytes, Buffer.from('!')]))).status, 400, 'more bytes than signed');
  t.notOk(store.has('alice', `blob:${hash}`), 'nothing is stored after the refusals');
  const written = await put(path, bytes);
  t.equal(written.status, 200);
  t.equal(written.headers.get('etag'), `"${hash}"`, 'the answer names the blob');
  await store.commit('alice', 'wf-a', hash, bytes.length);
  t.same(await store.get('alice', `blob:${hash}`), bytes);
  t.notOk(existsSync(store.path('bob', hash)), "not among bob's blobs");
  const again = await put(await store.presignWrite('alice', 'wf-a', undefined, bytes.length), bytes);
  t.equal(again.headers.get('etag'), `"${hash}"`, 'the same bytes again are the same blob');
  t.same(stagedFiles(), [], 'no staged file is left behind');
});
