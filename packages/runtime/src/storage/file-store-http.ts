import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileStore } from './file-store.js';
import { BLOBS_PATH, NEW_BLOB, type SignedBlobUrls } from './signed-blob-urls.js';

/**
 * Serves the file store's signed URLs on the runtime's HTTP server: a GET streams the blob from
 * disk, a PUT streams exactly the signed size to a staged file, hashing it on the way, and puts it
 * in place only when the hash is the one signed, so no reader ever sees a partial or wrong blob. A
 * PUT of a new blob (NEW_BLOB) is put in place under the hash it has, answered as its ETag.
 * Answers `false` for requests that are not for `/blobs/`, which another handler takes.
 */
export function serveFileBlobs(store: FileStore, urls: SignedBlobUrls, req: IncomingMessage, res: ServerResponse): boolean {
  if (!req.url?.startsWith(BLOBS_PATH)) return false;
  const access = urls.verify(req.method ?? '', req.url);
  if ('refused' in access) {
    refuse(req, res, 403, access.refused);
    return true;
  }
  const { method, tenant, hash, size = 0 } = access;
  const served =
    method === 'GET' ? sendBlob(store.path(tenant, hash), res) : hash === NEW_BLOB ? receiveNewBlob(store, tenant, size, req, res) : receiveBlob(store.path(tenant, hash), hash, size, req, res);
  served.catch((error: Error) => refuse(req, res, 500, error.message));
  return true;
}

async function sendBlob(path: string, res: ServerResponse): Promise<void> {
  const stored = await stat(path).catch(() => undefined);
  if (stored === undefined) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('no such blob');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stored.size) });
  // A reader that goes away mid-body only ends its own response.
  await pipeline(createReadStream(path), res).catch(() => res.destroy());
}

async function receiveBlob(path: string, hash: string, size: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!declaresSize(size, req, res)) return;
  if (await stat(path).then(() => true, () => false)) {
    // Content-addressed: the same bytes are there already.
    req.resume();
    req.once('end', () => res.writeHead(200, { etag: `"${hash}"` }).end());
    return;
  }
  await mkdir(dirname(path), { recursive: true });
  const staged = `${path}.${randomUUID()}.upload`;
  try {
    const received = await receive(req, staged);
    if (received.size !== size) return refuse(req, res, 400, `received ${received.size} of the ${size} bytes signed`);
    if (received.hash !== hash) return refuse(req, res, 400, `the content hashes to ${received.hash}, not the ${hash} signed`);
    await rename(staged, path);
    res.writeHead(200, { etag: `"${hash}"` }).end();
  } finally {
    await rm(staged, { force: true });
  }
}

async function receiveNewBlob(store: FileStore, tenant: string, size: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!declaresSize(size, req, res)) return;
  const staged = store.stagingPath(tenant);
  await mkdir(dirname(staged), { recursive: true });
  try {
    const received = await receive(req, staged);
    if (received.size !== size) return refuse(req, res, 400, `received ${received.size} of the ${size} bytes signed`);
    const path = store.path(tenant, received.hash);
    await mkdir(dirname(path), { recursive: true });
    // Content-addressed: where the same bytes are there already, this copy is dropped (before the answer).
    if (await stat(path).then(() => true, () => false)) await rm(staged, { force: true });
    else await rename(staged, path);
    res.writeHead(200, { etag: `"${received.hash}"` }).end();
  } finally {
    await rm(staged, { force: true });
  }
}

/** Whether the request declares the signed length; refused otherwise. */
function declaresSize(size: number, req: IncomingMessage, res: ServerResponse): boolean {
  if (Number(req.headers['content-length']) === size) return true;
  refuse(req, res, 400, `the URL is signed for ${size} bytes; the request declares ${req.headers['content-length'] ?? 'no length'}`);
  return false;
}

/** Streams the request's body to `staged`, hashing it on the way. */
async function receive(req: IncomingMessage, staged: string): Promise<{ size: number; hash: string }> {
  const digest = createHash('sha256');
  let size = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      digest.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(req, hashing, createWriteStream(staged));
  return { size, hash: digest.digest('hex') };
}

function refuse(req: IncomingMessage, res: ServerResponse, status: number, reason: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // What is left of the body is drained, and the connection closes after the answer.
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end(reason);
  req.resume();
}
