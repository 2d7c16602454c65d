import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import t from 'tap';
import { randomKey, startS3TestServer, type S3Key, type S3TestServer } from '../src/index.js';

const alice = randomKey();
const bob = randomKey();
const server: S3TestServer = await startS3TestServer({ keys: [alice, bob] });
t.teardown(() => server.close());

function client(key: S3Key): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: key,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const s3 = client(alice);
t.teardown(() => s3.destroy());
await s3.send(new CreateBucketCommand({ Bucket: 'data' }));
await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'a/one.txt', Body: 'one' }));

/** The S3 error code of a refused fetch (its XML body), or `ok` when it was served. */
async function outcome(response: Response): Promise<string> {
  const text = await response.text();
  return response.ok ? 'ok' : (/<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `status ${response.status}`);
}

t.test('correctly signed requests of the AWS SDK are served: put, streamed put, get, list, presigned get and put', async (t) => {
  const stream = Readable.from([Buffer.from('streamed '), Buffer.from('body')]);
  await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'a/two.txt', Body: stream, ContentLength: 13 }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'a/two.txt' }));
  t.equal(await got.Body!.transformToString(), 'streamed body', 'a streamed body is stored as sent');
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'a/' }));
  t.same(listed.Contents?.map((object) => object.Key), ['a/one.txt', 'a/two.txt']);

  const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'data', Key: 'a/one.txt' }), { expiresIn: 60 });
  const response = await fetch(get);
  t.equal(await response.text(), 'one', 'a presigned GET opens its object');
  const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'data', Key: 'a/three.txt' }), { expiresIn: 60 });
  t.equal(await outcome(await fetch(put, { method: 'PUT', body: 'three' })), 'ok', 'a presigned PUT writes its object');
  const three = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'a/three.txt' }));
  t.equal(await three.Body!.transformToString(), 'three');
});

t.test('a wrong secret, an unknown key and an unsigned request are refused', async (t) => {
  const wrong = client({ accessKeyId: alice.accessKeyId, secretAccessKey: bob.secretAccessKey });
  t.teardown(() => wrong.destroy());
  await t.rejects(wrong.send(new GetObjectCommand({ Bucket: 'data', Key: 'a/one.txt' })), { name: 'SignatureDoesNotMatch' });
  const unknown = client(randomKey());
  t.teardown(() => unknown.destroy());
  await t.rejects(unknown.send(new GetObjectCommand({ Bucket: 'data', Key: 'a/one.txt' })), { name: 'InvalidAccessKeyId' });
  t.equal(await outcome(await fetch(`${server.endpoint}/data/a/one.txt`)), 'AccessDenied', 'an unsigned GET');
});

t.test('a presigned URL opens only what it was signed for: not another key, method, size, nor after it expired', async (t) => {
  const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'data', Key: 'a/one.txt' }), { expiresIn: 60 });
  t.equal(await outcome(await fetch(get.replace('/a/one.txt', '/a/two.txt'))), 'SignatureDoesNotMatch', 'the URL edited to name another object');
  t.equal(await outcome(await fetch(get, { method: 'DELETE' })), 'SignatureDoesNotMatch', 'a presigned GET used as DELETE');
  t.equal(await outcome(await fetch(get, { method: 'PUT', body: 'overwritten' })), 'SignatureDoesNotMatch', 'a presigned GET used as PUT');
  const extended = new URL(get);
  extended.searchParams.set('X-Amz-Expires', '604800');
  t.equal(await outcome(await fetch(extended)), 'SignatureDoesNotMatch', 'its expiry extended by hand');

  const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'data', Key: 'a/one.txt' }), { expiresIn: 1, signingDate: new Date(Date.now() - 10_000) });
  t.equal(await outcome(await fetch(expired)), 'AccessDenied', 'an expired URL');

  const sized = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'data', Key: 'a/sized.bin', ContentLength: 4 }), { expiresIn: 60, signableHeaders: new Set(['content-length']) });
  t.equal(await outcome(await fetch(sized, { method: 'PUT', body: 'more than four' })), 'SignatureDoesNotMatch', 'a body longer than the signed Content-Length');
  t.equal(await outcome(await fetch(sized, { method: 'PUT', body: 'four' })), 'ok', 'the signed size');

  const kept = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'a/one.txt' }));
  t.equal(await kept.Body!.transformToString(), 'one', 'no refused request changed the object');
  await s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'a/sized.bin' }));
});

t.test('a header-signed body that is not the one it signed is cut off, and the request fails', async (t) => {
  const signer = new SignatureV4({ service: 's3', region: server.region, credentials: alice, sha256: Sha256, uriEscapePath: false });
  const url = new URL(`${server.endpoint}/data/a/tampered.txt`);
  const signed = await signer.sign(
    new HttpRequest({
      method: 'PUT',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, 'x-amz-content-sha256': createHash('sha256').update('the signed body').digest('hex') },
    }),
  );
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
  const sent = await fetch(url, { method: 'PUT', headers, body: 'another body!!!' }).then(outcome, () => 'cut off');
  t.not(sent, 'ok', `a body other than the signed one is refused (${sent})`);
  t.equal(await outcome(await fetch(url, { method: 'PUT', headers, body: 'the signed body' })), 'ok', 'the signed body itself is stored');
  t.ok((server.refused.get('XAmzContentSHA256Mismatch') ?? 0) >= 1, 'the front counted the mismatch');
});
