// `lzy server --storage s3`: runs' values in an S3 bucket (a real S3-protocol server: s3rver behind
// a front that verifies every signature, see @lzy/s3-test-server), nodes with presigned URLs only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import t from 'tap';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { randomKey, startS3TestServer } from '@lzy/s3-test-server';
import { big, lengthOf } from './fixtures/ops.js';
import { descendants, lzy, startServer, type Server, type Teardown } from './harness.js';

const key = randomKey();
const s3 = await startS3TestServer({ keys: [key] });
t.teardown(() => s3.close());
const bucket = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: key });
t.teardown(() => bucket.destroy());
await bucket.send(new CreateBucketCommand({ Bucket: 'values' }));

const s3Env = { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_REGION: s3.region };
const s3Args = ['--storage', 's3', '--s3-endpoint', s3.endpoint, '--s3-bucket', 'values', '--s3-prefix', 'runs', '--s3-path-style'];

function startS3Server(t: Teardown, options: { dataDir?: string; port?: number } = {}): Promise<Server> {
  return startServer(t, { ...options, args: s3Args, env: s3Env });
}

async function objectKeys(prefix: string): Promise<string[]> {
  const listed = await bucket.send(new ListObjectsV2Command({ Bucket: 'values', Prefix: prefix }));
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
