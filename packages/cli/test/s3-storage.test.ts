// `lzy server --storage s3`: runs' values in an S3 bucket (a real S3-protocol server: s3rver behind
// a front that verifies every signature, see @lzy/s3-test-server), nodes with presigned URLs only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import t from 'tap';
import { encodeValue, hashBytes } from '@lzy/node-agent/protocol';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { randomKey, startS3TestServer } from '@lzy/s3-test-server';
import { big, cachedBig, environment, lengthOf } from './fixtures/ops.js';
import { descendants, lzy, startServer, waitUntil, type Server, type Teardown } from './harness.js';

const key = randomKey();
/** The key of alice's own bucket: the runtime gets it only from her workflow's options. */
const aliceKey = randomKey();
const s3 = await startS3TestServer({ keys: [key, aliceKey] });
t.teardown(() => s3.close());
const bucket = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: key });
t.teardown(() => bucket.destroy());
await bucket.send(new CreateBucketCommand({ Bucket: 'values' }));
await bucket.send(new CreateBucketCommand({ Bucket: 'alice-own' }));

const s3Env = { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_REGION: s3.region };
const s3Args = ['--storage', 's3', '--s3-endpoint', s3.endpoint, '--s3-bucket', 'values', '--s3-prefix', 'runs', '--s3-path-style'];

function startS3Server(t: Teardown, options: { dataDir?: string; port?: number } = {}): Promise<Server> {
  return startServer(t, { ...options, args: s3Args, env: s3Env });
}

async function objectKeys(prefix: string, name = 'values'): Promise<string[]> {
  const listed = await bucket.send(new ListObjectsV2Command({ Bucket: name, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!);
}

t.test("a workflow's values go to the bucket under PREFIX/TENANT/WORKFLOW_ID/, its nodes never hold the keys, and a restarted server still has them", async (t) => {
  const server = await startS3Server(t);
  const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const token = await admin.issueToken('alice');
  await admin.close();
  const alice = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  let workflowId = '';
  // 200 000 characters: stored, not inline; made on one node, read on a node, returned to the client.
  const text = await alice.workflow('big-values', async (wf) => {
    workflowId = wf.id;
    const made = big('x', 200_000);
    const length = await lengthOf(made);
    t.equal(length, 200_000, 'the next op read the stored value');
    return await made;
  });
  t.equal(text, 'x'.repeat(200_000), 'the client read the stored result');

  const keys = await objectKeys('runs/');
  t.ok(keys.length >= 2, `the bundle and the value are in the bucket: ${keys.join(', ')}`);
  t.ok(keys.every((objectKey) => objectKey.startsWith(`runs/alice/${workflowId}/`)), 'every object is under runs/alice/WORKFLOW_ID/');
  t.same(readdirSync(server.dataDir).filter((name) => name === 'blobs'), [], 'nothing was stored under the data dir');
  t.same(Object.fromEntries(s3.refused), {}, 'the S3 server refused no request: every signature was good');
  t.ok(s3.passed.get('PUT presigned'), 'a node put its output with a presigned URL');
  t.ok(s3.passed.get('GET presigned'), 'a node got its input with a presigned URL');

  const nodes = descendants(server.child.process.pid!);
  t.ok(nodes.length > 0, 'the server runs node processes');
  for (const pid of nodes) {
    let environ = '';
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    t.notOk(environ.includes(key.secretAccessKey) || environ.includes(key.accessKeyId), `process ${pid} below the server has no S3 key in its environment`);
  }

  await alice.close();
  server.child.process.kill('SIGTERM');
  await server.child.exited;
  const restarted = await startS3Server(t, { dataDir: server.dataDir, port: server.port });
  const again = await Lzy.connect({ endpoint: restarted.url, token, onLog: () => {} });
  t.teardown(() => again.close());
  t.equal(await again.attach(workflowId), text, 'after a restart, the run result is read from the bucket');
});

t.test('lzy server refuses S3 flags without --storage s3, and --storage s3 without a bucket, with a clear error', async (t) => {
  const orphan = await lzy(['server', '--port', '0', '--s3-bucket', 'values']);
  t.equal(orphan.code, 2, orphan.stderr);
  t.match(orphan.stderr, /--s3-bucket needs --storage s3/);
  const bucketless = await lzy(['server', '--port', '0', '--storage', 's3']);
  t.equal(bucketless.code, 2, bucketless.stderr);
  t.match(bucketless.stderr, /--storage s3 needs --s3-bucket/);
});

/** A server on the runtime's bucket and a client of tenant `tenant`. */
async function serverAndClient(t: Teardown, tenant: string) {
  const server = await startS3Server(t);
  const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const token = await admin.issueToken(tenant);
  await admin.close();
  const client = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => client.close());
  return { server, token, client };
}

t.test("a workflow that names its own bucket keeps its values there, gives the same result, and its credentials reach no node, status or log", async (t) => {
  const { server, token, client } = await serverAndClient(t, 'alice');
  const own = { bucket: 'alice-own', prefix: 'lzy/experiment-1', endpoint: s3.endpoint, region: s3.region, pathStyle: true, credentials: aliceKey };
  const logs: string[] = [];
  const logged = await Lzy.connect({ endpoint: server.url, token, onLog: (line) => logs.push(JSON.stringify(line)) });
  t.teardown(() => logged.close());
  const work = async () => {
    const made = big('y', 150_000);
    return { length: await lengthOf(made), text: await made, env: await environment() };
  };
  let ownRun = '';
  const inOwn = await logged.workflow('own-bucket', async (wf) => ((ownRun = wf.id), await work()), { storage: own });
  const inRuntime = await client.workflow('runtime-storage', work);
  t.same([inOwn.length, inOwn.text], [inRuntime.length, inRuntime.text], "the same results on the user's bucket and on the runtime's");

  const ownKeys = await objectKeys('lzy/experiment-1/', 'alice-own');
  t.ok(ownKeys.length >= 1, `the run's values are in alice's bucket under its prefix: ${ownKeys.join(', ')}`);
  t.same(await objectKeys(`runs/alice/${ownRun}/`), [], "none of them in the runtime's bucket");

  const secret = aliceKey.secretAccessKey;
  t.notOk(JSON.stringify(inOwn.env).includes(secret) || JSON.stringify(inOwn.env).includes(aliceKey.accessKeyId), "the op's environment has none of the bucket's keys");
  t.notOk(Object.keys(inOwn.env).some((name) => name.startsWith('AWS_')), "nor the runtime's own");
  const status = await lzy(['status', ownRun, '--json', '--endpoint', server.url, '--token', token]);
  t.equal(status.code, 0, status.stderr);
  t.notOk(status.stdout.includes(secret) || status.stderr.includes(secret), 'lzy status --json shows no secret');
  const runLogs = await lzy(['logs', ownRun, '--endpoint', server.url, '--token', token]);
  t.notOk(runLogs.stdout.includes(secret) || runLogs.stderr.includes(secret), 'lzy logs shows no secret');
  t.notOk(logs.some((line) => line.includes(secret)), "the client's log lines show no secret");
  t.notOk(server.child.lines.some((line) => line.includes(secret)), "the server's output shows no secret");
});

t.test('naming a bucket without its credentials, or with wrong ones, fails the start with a clear error', async (t) => {
  const { client } = await serverAndClient(t, 'bob');
  const where = { bucket: 'alice-own', endpoint: s3.endpoint, region: s3.region, pathStyle: true };
  const keyless = await client.workflow('borrowing', () => 1, { storage: where }).catch((error: Error & { code?: string }) => error);
  t.match(keyless, { code: 'BAD_STORAGE', message: /storage in bucket alice-own needs its credentials/ }, "the runtime's own keys are not lent");
  const wrong = await client.workflow('guessing', () => 1, { storage: { ...where, credentials: { accessKeyId: aliceKey.accessKeyId, secretAccessKey: 'wrong' } } }).catch((error: Error & { code?: string }) => error);
  t.match(wrong, { code: 'BAD_STORAGE', message: /bucket alice-own cannot be used: these credentials may not use it/ });
  t.notMatch((wrong as Error).message, 'wrong', 'the error repeats no secret');
  const missing = await client.workflow('nowhere', () => 1, { storage: { ...where, bucket: 'no-such-bucket', credentials: aliceKey } }).catch((error: Error & { code?: string }) => error);
  t.match(missing, { code: 'BAD_STORAGE', message: /bucket no-such-bucket cannot be used: it does not exist/ });
});

t.test("an op whose result would overflow its run's temporary storage fails with STORAGE_QUOTA_EXCEEDED, unretried, the run fails, and its value is not stored", async (t) => {
  const server = await startServer(t, { args: [...s3Args, '--temp-quota', '3MiB'], env: s3Env });
  const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const token = await admin.issueToken('carol');
  await admin.close();
  const carol = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => carol.close());
  let workflowId = '';
  const error = await carol
    .workflow('overflowing', async (wf) => {
      workflowId = wf.id;
      // Two values of 1.9 MiB: the first fits beside the ops' bundle, the second would not.
      const first = await lengthOf(big('a', 2_000_000));
      return first + (await lengthOf(big('b', 2_000_000)));
    })
    .catch((e: Error & { code?: string }) => e);
  t.match(
    (error as Error).message,
    /\(attempt 1, STORAGE_QUOTA_EXCEEDED\).*would store 1\.9 MiB more in its temporary storage, which holds \d+(\.\d)? MiB of its 3 MiB quota/,
    'the error names the quota and the usage, and the op was not tried again',
  );
  const status = await lzy(['status', workflowId, '--json', '--endpoint', server.url, '--token', token]);
  const detail = JSON.parse(status.lines.at(-1)!) as { status: string; ops: Array<{ state: string; failure?: { code: string } }> };
  t.equal(detail.status, 'failed');
  t.ok(detail.ops.some((op) => op.state === 'failed'), 'an op failed');
  const keys = await objectKeys(`runs/carol/${workflowId}/`);
  t.equal(keys.length, 2, `only the ops' bundle and the first value are stored: ${keys.join(', ')}`);
});

t.test("a run's temporary storage is emptied its TTL after the run ends, also across a restart, and a cached result that went with it is computed again", async (t) => {
  const withTtl = (ttl: string) => ({ args: [...s3Args, '--temp-ttl', ttl], env: s3Env });
  const server = await startServer(t, withTtl('2s'));
  const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const token = await admin.issueToken('dave');
  await admin.close();
  const run = async (url: string) => {
    const dave = await Lzy.connect({ endpoint: url, token, onLog: () => {} });
    let workflowId = '';
    const text = await dave.workflow('expiring', async (wf) => ((workflowId = wf.id), await cachedBig('e', 100_000)));
    await dave.close();
    t.equal(text, 'e'.repeat(100_000));
    return workflowId;
  };
  const stored = async (workflowId: string) => (await objectKeys(`runs/dave/${workflowId}/`)).length;
  const stop = async (previous: Server, signal: NodeJS.Signals) => {
    previous.child.process.kill(signal);
    await previous.child.exited;
  };
  const restart = (previous: Server, ttl: string) => startServer(t, { ...withTtl(ttl), dataDir: previous.dataDir, port: previous.port });

  const first = await run(server.url);
  t.ok((await stored(first)) > 0, 'the run left values in its temporary storage');
  await waitUntil(async () => (await stored(first)) === 0, "the first run's storage to be emptied after its TTL", 60_000);

  // A TTL long enough that the runtime is surely killed before it is up.
  await stop(server, 'SIGTERM');
  const patient = await restart(server, '20s');
  const second = await run(patient.url);
  // Killed as soon as the run has ended, so that only the next runtime can empty its storage.
  await stop(patient, 'SIGKILL');
  t.ok((await stored(second)) > 0, 'the runtime died before the TTL of the second run was up');
  const restarted = await restart(patient, '20s');
  const status = await lzy(['status', second, '--json', '--endpoint', restarted.url, '--token', token]);
  const [op] = (JSON.parse(status.lines.at(-1)!) as { ops: Array<{ state: string; miss?: { reason: string } }> }).ops;
  t.match(op, { state: 'succeeded', miss: { reason: 'result-expired' } }, "the first run's cached result had expired: the op ran again");
  await waitUntil(async () => (await stored(second)) === 0, "the restarted runtime to empty the second run's storage", 90_000);
  t.ok(restarted.url, 'emptied by the restarted runtime');
});

t.test("runs that share a stored blob (a bundle shipped once, a cached result) keep it until the last of them expires, and a connection whose runs all expired ships its bundle again", async (t) => {
  const server = await startServer(t, { args: [...s3Args, '--temp-ttl', '3s'], env: s3Env });
  const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const token = await admin.issueToken('erin');
  await admin.close();
  // One connection for every run: it ships the ops' bundle once, with the first run.
  const erin = await Lzy.connect({ endpoint: server.url, token, onLog: () => {} });
  t.teardown(() => erin.close());
  const stored = (workflowId: string) => objectKeys(`runs/erin/${workflowId}/`);
  const opState = async (workflowId: string) => {
    const status = await lzy(['status', workflowId, '--json', '--endpoint', server.url, '--token', token]);
    return (JSON.parse(status.lines.at(-1)!) as { ops: Array<{ state: string }> }).ops.map((op) => op.state);
  };

  let first = '';
  t.equal(await erin.workflow('first', async (wf) => ((first = wf.id), await big('a', 100_000), await cachedBig('h', 100_000))), 'h'.repeat(100_000));
  const firstKeys = await stored(first);
  t.equal(firstKeys.length, 3, 'the first run stored the bundle, its own value and the cached result');

  // The first run's own value (not cached, not shared): the one key that goes when it expires.
  const own = `/${hashBytes(encodeValue('a'.repeat(100_000)))}`;
  let third = '';
  const second = await erin.workflow('second', async (wf) => {
    t.equal(await cachedBig('h', 100_000), 'h'.repeat(100_000));
    // The first run expires while this one holds its bundle and its cached result.
    await waitUntil(async () => (await stored(first)).length === 2, "the first run's storage to expire", 60_000);
    t.same((await stored(first)).sort(), firstKeys.filter((key) => !key.endsWith(own)).sort(), 'only its own value went: the blobs the second run holds stay');
    // A third run takes the cached result, still there thanks to the second run.
    t.equal(await erin.workflow('third', async (wf3) => ((third = wf3.id), await cachedBig('h', 100_000))), 'h'.repeat(100_000));
    t.same(await opState(third), ['cached'], 'the third run took the cached result instead of computing it again');
    return wf.id;
  });

  await waitUntil(async () => (await stored(first)).length + (await stored(second)).length + (await stored(third)).length === 0, 'every run to expire', 60_000);
  t.pass('the shared blobs went with the last run that held them');

  // Every run that held the bundle has expired: the connection ships it again, unasked.
  let fourth = '';
  t.equal(await erin.workflow('fourth', async (wf) => ((fourth = wf.id), await lengthOf('z'.repeat(100_000)))), 100_000);
  t.ok((await stored(fourth)).length > 0, 'the fourth run stored the bundle again');
});
