// The S3 backend of the storage service against a real S3-protocol server (s3rver behind a
// front that verifies signatures: see @lzy/s3-test-server), with real lmdb state in a temp dir.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { open } from 'lmdb';
import t from 'tap';
import { hashBytes } from '@lzy/node-agent/protocol';
import { randomKey, startS3TestServer, type S3TestServer } from '@lzy/s3-test-server';
import { BlobLocations } from '../src/storage/blob-locations.js';
import { OpenUploads } from '../src/storage/open-uploads.js';
import { S3Bucket } from '../src/storage/s3-bucket.js';
import { S3Store, type S3StorageConfig } from '../src/storage/s3-store.js';
import { tempDir } from './harness.js';
import type { Teardown } from '@lzy/actors/testing';

const key = randomKey();
const server: S3TestServer = await startS3TestServer({ keys: [key] });
t.teardown(() => server.close());
const config: S3StorageConfig = { bucket: 'values', prefix: 'lzy', endpoint: server.endpoint, region: server.region, pathStyle: true, credentials: key };
const admin = new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: key });
t.teardown(() => admin.destroy());
await admin.send(new CreateBucketCommand({ Bucket: 'values' }));

/** A store on its own lmdb state; `reopen` gives a new store on the same state, as after a restart. */
function storeFor(t: Teardown) {
  const dir = tempDir(t);
  const open_ = () => {
    const root = open({ path: join(dir, 'state') });
    const store = S3Store.inRuntimeBucket(new S3Bucket(config), config.prefix, new BlobLocations(root), new OpenUploads(root), join(dir, 'staging'));
    return { store, close: async () => (await store.close(), await root.close()) };
  };
  return { dir, open: open_ };
}

async function keys(prefix: string): Promise<string[]> {
  const listed = await admin.send(new ListObjectsV2Command({ Bucket: 'values', Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!).sort();
}

const bytesOf = (text: string, times = 1) => Buffer.from(text.repeat(times));

t.test("a run's values are stored under PREFIX/TENANT/WORKFLOW_ID/ and read back whole and in ranges, also after a restart", async (t) => {
  const { open: openStore } = storeFor(t);
  const first = openStore();
  const bytes = bytesOf('0123456789', 1000);
  const ref = await first.store.put('alice', 'wf-1', bytes);
  t.equal(ref.uri, `blob:${hashBytes(bytes)}`);
  t.same(await keys('lzy/alice/'), [`lzy/alice/wf-1/${ref.hash}`]);
  t.same(await first.store.get('alice', ref.uri!), bytes);
  t.equal((await first.store.read('alice', ref.uri!, 5, 7)).toString(), '5678901');
  t.equal((await first.store.read('alice', ref.uri!, 9995, 100)).toString(), '56789', 'a read past the end answers what is there');
  await first.close();
  const again = openStore();
  t.teardown(() => again.close());
  t.same(await again.store.get('alice', ref.uri!), bytes, 'the restarted store finds the blob');
  await t.rejects(again.store.get('bob', ref.uri!), { code: 'ENOENT' }, "another tenant does not find alice's blob");
});

t.test('a chunked upload is staged on disk, put whole once its hash checks, and a bad one publishes nothing', async (t) => {
  const { dir, open: openStore } = storeFor(t);
  const { store, close } = openStore();
  t.teardown(close);
  const bytes = bytesOf('chunk', 100);
  const hash = hashBytes(bytes);
  await store.writeChunk('alice', 'wf-2', { uploadId: 'u1', hash, offset: 0, bytes: bytes.subarray(0, 200), last: false });
  t.same(await keys('lzy/alice/wf-2/'), [], 'nothing is visible before the last chunk');
  await store.writeChunk('alice', 'wf-2', { uploadId: 'u1', hash, offset: 200, bytes: bytes.subarray(200), last: true });
  t.same(await keys('lzy/alice/wf-2/'), [`lzy/alice/wf-2/${hash}`]);
  t.same(await store.get('alice', `blob:${hash}`), bytes);

  const wrong = hashBytes(Buffer.from('something else'));
  await t.rejects(store.writeChunk('alice', 'wf-2', { uploadId: 'u2', hash: wrong, offset: 0, bytes, last: true }), /does not match the declared/);
  await t.rejects(store.get('alice', `blob:${wrong}`), { code: 'ENOENT' });
  t.same(await keys('lzy/alice/wf-2/'), [`lzy/alice/wf-2/${hash}`], 'the bad upload left no object');
  t.same(existsSync(join(dir, 'staging')) ? readdirSync(join(dir, 'staging')) : [], [], 'and no staged file');
});

t.test('a presigned PUT takes exactly the declared bytes, and the blob is readable once committed', async (t) => {
  const { open: openStore } = storeFor(t);
  const { store, close } = openStore();
  t.teardown(close);
  const bytes = bytesOf('presigned', 50);
  const hash = hashBytes(bytes);
  const url = (await store.presignWrite('alice', 'wf-3', hash, bytes.length))!;
  t.notMatch(url, key.secretAccessKey, 'the URL carries no secret');

  const longer = await fetch(url, { method: 'PUT', body: Buffer.concat([bytes, Buffer.from('more')]) });
  t.equal(longer.status, 403, `a body longer than declared is refused: ${await longer.text()}`);
  await t.rejects(store.commit('alice', 'wf-3', hash, bytes.length), /was not uploaded/, 'nothing to commit yet');

  const put = await fetch(url, { method: 'PUT', body: bytes });
  t.equal(put.status, 200, await put.text());
  await t.rejects(store.get('alice', `blob:${hash}`), { code: 'ENOENT' }, 'not readable before the commit');
  await store.commit('alice', 'wf-3', hash, bytes.length);
  t.same(await store.get('alice', `blob:${hash}`), bytes);
  await t.rejects(store.commit('alice', 'wf-3', hash, bytes.length + 1), /with 450 bytes, not the 451 declared/, 'a commit of another size is refused');
});

t.test("a presigned GET opens exactly its object: edited to another tenant's key, or used to PUT, it is refused", async (t) => {
  const { open: openStore } = storeFor(t);
  const { store, close } = openStore();
  t.teardown(close);
  const secret = bytesOf('bob only', 20);
  const bobs = await store.put('bob', 'wf-b', secret);
  const alices = await store.put('alice', 'wf-a', bytesOf('alice', 20));
  const url = await store.presignRead('alice', alices.uri!);
  t.equal((await fetch(url)).status, 200, 'alice reads her own object');
  const edited = url.replace(`/alice/wf-a/${alices.hash}`, `/bob/wf-b/${bobs.hash}`);
  t.not(edited, url);
  const stolen = await fetch(edited);
  t.equal(stolen.status, 403, 'the edited URL is refused');
  t.notMatch(await stolen.text(), 'bob only');
  t.equal((await fetch(url, { method: 'PUT', body: 'overwrite' })).status, 403, 'a GET URL does not PUT');
  await t.rejects(store.presignRead('alice', bobs.uri!), { code: 'ENOENT' }, "alice gets no URL for bob's blob");
});

t.test('a blob that later runs hold stays when the run that stored it expires, and goes with the last of them, also across a restart', async (t) => {
  const { open: openStore } = storeFor(t);
  const first = openStore();
  const shared = await first.store.put('carol', 'wf-1', bytesOf('shared', 100));
  const own = await first.store.put('carol', 'wf-1', bytesOf('own', 100));
  await first.store.hold('carol', 'wf-2', [shared.uri!]);
  await first.store.hold('carol', 'wf-3', [shared.uri!]);
  await first.store.expire('carol', 'wf-1');
  t.same(await keys('lzy/carol/'), [`lzy/carol/wf-1/${shared.hash}`], "the expired run's own value went; the held one stayed where it was");
  await t.rejects(first.store.get('carol', own.uri!), { code: 'ENOENT' });
  t.same(await first.store.get('carol', shared.uri!), bytesOf('shared', 100), 'the holders still read it');
  await first.close();

  const again = openStore();
  t.teardown(() => again.close());
  await again.store.expire('carol', 'wf-2');
  t.ok(again.store.has('carol', shared.uri!), 'one holder is left after a restart: the blob stays');
  await again.store.expire('carol', 'wf-1');
  t.same(await keys('lzy/carol/'), [`lzy/carol/wf-1/${shared.hash}`], 'an expiry tried again keeps what is still held');
  await again.store.expire('carol', 'wf-3');
  t.same(await keys('lzy/carol/'), [], 'the last holder expired: the blob is gone');
  t.notOk(again.store.has('carol', shared.uri!));
});

t.test('a blob stored again by a later run is read from its new copy, still held by the runs that held the old one', async (t) => {
  const { open: openStore } = storeFor(t);
  const { store, close } = openStore();
  t.teardown(close);
  const bytes = bytesOf('again', 100);
  const ref = await store.put('dan', 'wf-1', bytes);
  await store.hold('dan', 'wf-2', [ref.uri!]);
  await store.expire('dan', 'wf-1');
  await store.put('dan', 'wf-3', bytes);
  t.same(await keys('lzy/dan/'), [`lzy/dan/wf-3/${ref.hash}`], 'the old copy, which only its holders kept, went once replaced');
  await store.expire('dan', 'wf-3');
  t.same(await store.get('dan', ref.uri!), bytes, 'the run that held the old copy still reads the blob');
  await store.expire('dan', 'wf-2');
  t.same(await keys('lzy/dan/'), []);
  await t.rejects(store.get('dan', ref.uri!), { code: 'ENOENT' });
});

t.test("holding a blob of another tenant, or one that is not stored, holds nothing", async (t) => {
  const { open: openStore } = storeFor(t);
  const { store, close } = openStore();
  t.teardown(close);
  const bobs = await store.put('frank', 'wf-b', bytesOf('frank', 100));
  await store.hold('erin', 'wf-a', [bobs.uri!, `blob:${hashBytes(Buffer.from('nothing'))}`]);
  await store.expire('frank', 'wf-b');
  t.same(await keys('lzy/frank/'), [], "erin's run did not keep frank's blob");
  t.notOk(store.has('erin', bobs.uri!));
});

t.test("a blob a run stores in its own bucket is read from there for good; the temporary copy it replaces goes once no run holds it", async (t) => {
  const dir = tempDir(t);
  const root = open({ path: join(dir, 'state') });
  const locations = new BlobLocations(root);
  const uploads = new OpenUploads(root);
  const temporary = S3Store.inRuntimeBucket(new S3Bucket(config), config.prefix, locations, uploads, join(dir, 'staging'));
  const bucket = new S3Bucket(config);
  const ownPlace = (_tenant: string, workflowId: string) => ({ bucket, prefix: `mine/${workflowId}/`, keyOf: (hash: string) => `mine/${workflowId}/${hash}` });
  const own = new S3Store(ownPlace, locations, uploads, join(dir, 'staging'), { kind: 'own', dropTemporary: (tenant, workflowId, hash) => temporary.deleteCopy(tenant, workflowId, hash) }, () => bucket.close());
  t.teardown(async () => (await own.close(), await temporary.close(), await root.close()));
  const bytes = bytesOf('mine', 100);
  const ref = await temporary.put('gina', 'wf-1', bytes);
  await temporary.hold('gina', 'wf-2', [ref.uri!]);
  await temporary.expire('gina', 'wf-1');
  t.same(await keys('lzy/gina/'), [`lzy/gina/wf-1/${ref.hash}`], 'kept for the run that holds it');
  await own.put('gina', 'wf-own', bytes);
  t.same(await keys('lzy/gina/'), [], 'the temporary copy went: the own copy is read now');
  t.same(await keys('mine/'), [`mine/wf-own/${ref.hash}`]);
  await temporary.expire('gina', 'wf-2');
  t.same(await own.get('gina', ref.uri!), bytes, "the holder's expiry leaves the own copy and its location");
});
