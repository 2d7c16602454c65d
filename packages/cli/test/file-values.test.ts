// File values (`LzyFile`): an op's file streams from its node's disk to storage to the next op's
// node's disk, never whole in memory, through the file store and through S3 (a real S3-protocol
// server, see @lzy/s3-test-server): presigned PUTs up to 64 MiB, multipart uploads beyond.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import t from 'tap';
import { Lzy, LzyFile, RemoteConnection } from '@lzy/sdk';
import { randomKey, startS3TestServer } from '@lzy/s3-test-server';
import { hashTestFile, sha256Of, testFileBlocks, writeTestFile } from './fixtures/files.js';
import { descendants, runs, startServer, tempDir, waitUntil, type Server, type Teardown } from './harness.js';

/**
 * Each backend's round trip, in MiB: 1 GiB through the file store; 256 MiB through S3 (s3rver
 * writes every byte to its own disk too, so 1 GiB takes minutes on a 2-core CI machine; four
 * multipart parts cover what a larger file would). LZY_TEST_FILE_MIB sets both.
 */
const BIG_MIB = { file: Number(process.env.LZY_TEST_FILE_MIB ?? 1024), s3: Number(process.env.LZY_TEST_FILE_MIB ?? 256) };
/** The most any process may take while a file of `mib` goes through it: less than the file, so that none can have held it whole. */
const rssLimitMib = (mib: number) => Math.min(240, mib - 16);

const key = randomKey();
const s3 = await startS3TestServer({ keys: [key] });
t.teardown(() => s3.close());
const bucket = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: key });
t.teardown(() => bucket.destroy());
await bucket.send(new CreateBucketCommand({ Bucket: 'files' }));
const s3Options = {
  args: ['--storage', 's3', '--s3-endpoint', s3.endpoint, '--s3-bucket', 'files', '--s3-prefix', 'runs', '--s3-path-style'],
  env: { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_REGION: s3.region },
};
const backends = { file: {}, s3: s3Options } as const;

async function connect(t: Teardown, server: Server): Promise<Lzy> {
  const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const token = await admin.issueToken('alice');
  await admin.close();
  const lzy = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => lzy.close());
  return lzy;
}

/** The sha256 of the test file of `seed`, made here the way the op makes it. */
function expectedHash(seed: string, mib: number): Promise<string> {
  return sha256Of(Readable.from(testFileBlocks(seed, mib)));
}

/** The largest resident set (MiB) the server and each live process below it have had: `[pid, MiB, command line]`. */
function peakRss(server: Server): Array<[number, number, string]> {
  const root = server.child.process.pid!;
  return [root, ...descendants(root)].flatMap((pid): Array<[number, number, string]> => {
    try {
      const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return peak === undefined ? [] : [[pid, Number(peak) / 1024, readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')]];
    } catch {
      return [];
    }
  });
}

for (const [backend, options] of Object.entries(backends)) {
  const mib = BIG_MIB[backend as keyof typeof backends];
  t.test(`${backend} storage: an op's ${mib} MiB file reaches the next op on its disk, with runners' heaps capped at 256 MiB and no process holding it whole`, async (t) => {
    const server = await startServer(t, options);
    const lzy = await connect(t, server);
    const dir = tempDir(t);
    const seed = `big-${backend}`;
    const hashed = await lzy.workflow('big-file', async () => await hashTestFile(writeTestFile(dir, seed, mib)));
    t.equal(hashed.bytes, mib * 1024 * 1024, 'the next op read the whole file');
    t.equal(hashed.sha256, await expectedHash(seed, mib), 'byte for byte the file the op wrote');
    t.ok(hashed.isLzyFile, 'the op got an LzyFile');
    // The heap's limit is the capped old space plus the young generation: about 300 MiB on Node 20,
    // 448 MiB on Node 24; uncapped, it is over 2 GiB on a machine of this size.
    t.ok(hashed.heapLimitMib < 512, `the op ran with its heap capped (${hashed.heapLimitMib.toFixed(0)} MiB)`);
    for (const [pid, peak, command] of peakRss(server)) {
      t.ok(peak < rssLimitMib(mib), `process ${pid} (${command.slice(0, 100)}) peaked at ${peak.toFixed(0)} MiB`);
    }
  });

  t.test(`${backend} storage: the workflow gets an op's file as an LzyFile to read, download or pass on`, async (t) => {
    const server = await startServer(t, options);
    const lzy = await connect(t, server);
    const dir = tempDir(t);
    const seed = `small-${backend}`;
    const expected = await expectedHash(seed, 5);
    await lzy.workflow('small-file', async () => {
      const file = await writeTestFile(dir, seed, 5);
      t.ok(file instanceof LzyFile, 'the workflow got an LzyFile');
      t.equal(file.size, 5 * 1024 * 1024, 'of the size written');
      t.equal(await sha256Of(file.stream()), expected, 'its stream is the file the op wrote');
      t.equal(await sha256Of(Readable.from(readFileSync(await file.path()))), expected, 'and so is the file path() downloaded');
      t.equal((await hashTestFile(file)).sha256, expected, 'passed on to another op, it is the same file there');
    });
  });
}

t.test('an agent killed in the middle of a multipart upload: the upload is aborted, the attempt retried, nothing partial is ever listed', async (t) => {
  const server = await startServer(t, s3Options);
  const lzy = await connect(t, server);
  const dir = tempDir(t);
  const mib = 160; // three parts: 64, 64 and 32 MiB
  const before = { puts: s3.passed.get('PUT presigned') ?? 0, deletes: s3.passed.get('DELETE signed') ?? 0 };
  const run = lzy.workflow('killed-upload', async () => await hashTestFile(writeTestFile(dir, 'killed', mib)));
  await waitUntil(() => (s3.passed.get('PUT presigned') ?? 0) > before.puts, 'the first part to go up', 60_000);
  const agents = descendants(server.child.process.pid!).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node-agent');
    } catch {
      return false;
    }
  });
  t.ok(agents.length > 0, 'the server runs node-agents');
  for (const pid of agents) process.kill(pid, 'SIGKILL');

  const hashed = await run;
  t.equal(hashed.sha256, await expectedHash('killed', mib), 'the retried attempt stored the whole file');
  t.equal(runs(dir, 'killed'), 2, 'the op that was cut ran again');
  t.ok((s3.passed.get('DELETE signed') ?? 0) > before.deletes, 'the runtime asked the bucket to abort the cut upload');
  const listed = await bucket.send(new ListObjectsV2Command({ Bucket: 'files', Prefix: 'runs/' }));
  const files = (listed.Contents ?? []).filter((object) => object.Size === mib * 1024 * 1024 || object.Key!.endsWith(hashed.sha256));
  t.same(files.map((object) => [object.Key!.endsWith(hashed.sha256), object.Size]), [[true, mib * 1024 * 1024]], 'the file is listed once, whole, under its hash');
});
