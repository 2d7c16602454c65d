// When runs' temporary storage expires, on real lmdb state in a temp dir, across reopenings as
// across restarts. The store here only records what it is asked to empty: the S3 store's emptying
// is tested against a real S3-protocol server in cli/test/s3-storage.
import { join } from 'node:path';
import { open } from 'lmdb';
import t from 'tap';
import type { BlobStore } from '../src/storage/blob-store.js';
import { TempExpiry } from '../src/storage/temp-expiry.js';
import { tempDir, waitUntil } from './harness.js';

const TTL_MS = 50;

function expiring(dir: string) {
  const root = open({ path: join(dir, 'state') });
  const emptied: string[] = [];
  const store = { expire: async (tenant: string, workflowId: string) => void emptied.push(`${tenant}/${workflowId}`) } as unknown as BlobStore;
  const expiry = new TempExpiry(root, store, TTL_MS, () => {});
  return { expiry, emptied, close: async () => (await expiry.close(), await root.close()) };
}

t.test("a run an earlier version ended without recording its expiry has its storage emptied after the first start, once; later starts read no ended run", async (t) => {
  const dir = tempDir(t);
  const first = expiring(dir);
  await first.expiry.ended('alice', 'wf-recorded', Date.now());
  await waitUntil(() => first.emptied.length === 1, 'the recorded run emptied');
  await first.close();

  // wf-lost's end was journaled, but its expiry never written.
  const second = expiring(dir);
  const ended = [
    { tenant: 'alice', workflowId: 'wf-recorded', endedAt: Date.now() - 1_000 },
    { tenant: 'bob', workflowId: 'wf-lost', endedAt: Date.now() - 1_000 },
  ];
  await second.expiry.reconcile(ended);
  await waitUntil(() => second.emptied.length > 0, 'a run emptied');
  // Closing waits for the sweep under way: whatever it empties is in the list after.
  await second.close();
  t.same(second.emptied, ['bob/wf-lost'], "the lost expiry is made up for; the emptied run's is not repeated");

  const third = expiring(dir);
  let read = 0;
  await third.expiry.reconcile((function* () {
    for (const run of ended) {
      read++;
      yield run;
    }
  })());
  t.equal(read, 0, 'a start after the first reads none of the ended runs');
  await third.expiry.ended('carol', 'wf-next', Date.now());
  await waitUntil(() => third.emptied.length > 0, 'a run emptied');
  await third.close();
  t.same(third.emptied, ['carol/wf-next'], 'a later start finds nothing more to make up for');
});

t.test('a run whose expiry is recorded but not yet due is not emptied early by a reconcile', async (t) => {
  const dir = tempDir(t);
  const root = open({ path: join(dir, 'state') });
  t.teardown(() => root.close());
  const emptied: string[] = [];
  const store = { expire: async (tenant: string, workflowId: string) => void emptied.push(`${tenant}/${workflowId}`) } as unknown as BlobStore;
  const expiry = new TempExpiry(root, store, 60 * 60_000, () => {});
  t.teardown(() => expiry.close());
  await expiry.ended('alice', 'wf-later', Date.now());
  await expiry.reconcile([{ tenant: 'alice', workflowId: 'wf-later', endedAt: Date.now() - 2 * 60 * 60_000 }]);
  await expiry.ended('alice', 'wf-now', Date.now() - 60 * 60_000);
  await waitUntil(() => emptied.length > 0, 'a run emptied');
  await expiry.close();
  t.same(emptied, ['alice/wf-now'], 'only the run that was due');
});
