import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { ask } from '@lzy/actors';
import { BadBlobError, CHUNK_TIMEOUT_MS, presigned, TRANSFER_TIMEOUT_MS, type NodeStorage } from './blob-io.js';
import { CHUNK_BYTES, MultipartUpload } from './protocol/agent.js';
import { fileRef, type FileRef } from './protocol/data.js';

/** Largest file put with one presigned PUT; a larger one goes up as a multipart upload. */
export const SINGLE_PUT_BYTES = 64 * 1024 * 1024;

/**
 * Fetches the file value `ref` into `dir` (as `dir/HASH`), streamed from storage to disk and
 * checked against its size and hash on the way: through a presigned URL where storage gives one,
 * else in chunks. Resolves with its path; nothing is left at that path when it fails.
 */
export async function fetchFile(storage: NodeStorage, ref: FileRef, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, ref.hash);
  const temp = `${path}.${randomUUID()}.part`;
  const url = await presigned(storage, { type: 'presign-read', uri: ref.uri });
  const hash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      url === undefined ? Readable.from(readChunks(storage, ref)) : await downloadStream(url, ref.uri),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > ref.size) throw new BadBlobError(`file ${ref.uri} has more than the ${ref.size} bytes its ref says`);
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(temp),
    );
    const actual = hash.digest('hex');
    if (size !== ref.size) throw new BadBlobError(`file ${ref.uri} has ${size} bytes; its ref says ${ref.size}`);
    if (actual !== ref.hash) throw new BadBlobError(`file ${ref.uri} has sha256 ${actual}; its ref says ${ref.hash}`);
    await rename(temp, path);
    return path;
  } finally {
    await rm(temp, { force: true });
  }
}

async function* readChunks(storage: NodeStorage, ref: FileRef): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < ref.size; ) {
    const length = Math.min(CHUNK_BYTES, ref.size - offset);
    const chunk = await ask(storage.ref, { type: 'read', uri: ref.uri, offset, length }, CHUNK_TIMEOUT_MS);
    if (chunk.length === 0 || chunk.length > length) throw new BadBlobError(`file ${ref.uri} answered ${chunk.length} bytes at offset ${offset}; its ref says it has ${ref.size}`);
    offset += chunk.length;
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

async function downloadStream(url: string, uri: string): Promise<Readable> {
  const response = await fetch(url, { signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS) });
  if (!response.ok || response.body === null) throw new Error(`storage answered ${response.status} ${response.statusText} to the read of file ${uri}`);
  return Readable.fromWeb(response.body);
}

/**
 * Stores the file at `path`, the output of attempt `attemptId`, streamed from disk. Where storage
 * names blobs as they arrive (the file store), the file is read once: one presigned PUT, whose
 * answer names it. Elsewhere its sha256 is computed first (a stream too), since the stored blob is
 * named by it: larger files than SINGLE_PUT_BYTES go as a multipart upload with presigned part
 * URLs (given up when a part fails) where storage takes those; others through one presigned PUT
 * where storage gives URLs; else in chunks through the runtime.
 */
export async function storeFile(storage: NodeStorage, attemptId: string, path: string): Promise<FileRef> {
  const { size } = await stat(path);
  const unnamed = await presigned(storage, { type: 'presign-write', attemptId, size });
  if (unnamed !== undefined) {
    const hash = /^"?([0-9a-f]{64})"?$/.exec(await putRange(unnamed, path, 0, size, path))?.[1];
    if (hash === undefined) throw new Error(`storage did not name file ${path} once it was uploaded`);
    await ask(storage.ref, { type: 'commit', attemptId, hash, size }, CHUNK_TIMEOUT_MS);
    return fileRef(hash, size);
  }
  const hash = await hashOf(path);
  if (size > SINGLE_PUT_BYTES) {
    const upload = await ask(storage.ref, { type: 'multipart-create', attemptId, hash, size }, CHUNK_TIMEOUT_MS);
    if (upload !== null) {
      if (!Value.Check(MultipartUpload, upload)) throw new Error('the runtime answered multipart-create with something that is no upload');
      await putParts(storage, attemptId, path, size, hash, upload);
      return fileRef(hash, size);
    }
  }
  // One PUT: of a file up to SINGLE_PUT_BYTES, or of any file where storage takes no multipart uploads.
  const url = await presigned(storage, { type: 'presign-write', attemptId, hash, size });
  if (url !== undefined) {
    await putRange(url, path, 0, size, hash);
    await ask(storage.ref, { type: 'commit', attemptId, hash, size }, CHUNK_TIMEOUT_MS);
  } else await writeChunks(storage, attemptId, path, size, hash);
  return fileRef(hash, size);
}

async function hashOf(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: CHUNK_BYTES }), hash);
  return hash.digest('hex');
}

async function putParts(storage: NodeStorage, attemptId: string, path: string, size: number, hash: string, { uploadId, partSize }: MultipartUpload): Promise<void> {
  const parts: Array<{ partNumber: number; etag: string }> = [];
  try {
    for (let partNumber = 1, offset = 0; offset < size; partNumber++, offset += partSize) {
      const url = await presigned(storage, { type: 'multipart-part', attemptId, uploadId, partNumber });
      if (url === undefined) throw new Error(`the runtime gave no URL for part ${partNumber} of the upload of file ${hash}`);
      parts.push({ partNumber, etag: await putRange(url, path, offset, Math.min(partSize, size - offset), hash) });
    }
    await ask(storage.ref, { type: 'multipart-complete', attemptId, uploadId, parts }, CHUNK_TIMEOUT_MS);
  } catch (error) {
    await ask(storage.ref, { type: 'multipart-abort', attemptId, uploadId }, CHUNK_TIMEOUT_MS).catch(() => {});
    throw error;
  }
}

/** PUTs `length` bytes of the file at `path` from `start` to a presigned URL (which signs that length); resolves with the ETag answered. `label` names the file in errors. */
async function putRange(url: string, path: string, start: number, length: number, label: string): Promise<string> {
  const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, {
    method: 'PUT',
    headers: { 'content-length': String(length) },
    signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS),
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => request.once('response', resolve).once('error', reject));
  if (length === 0) request.end();
  else await pipeline(createReadStream(path, { start, end: start + length - 1, highWaterMark: CHUNK_BYTES }), request);
  const response = await answered;
  let body = '';
  for await (const chunk of response) body += String(chunk);
  // The answer's body says why it failed; a URL is never repeated in the error (it is a credential while it lasts).
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) throw new Error(`storage answered ${status} ${response.statusMessage ?? ''} to the upload of file ${label}: ${body.slice(0, 500)}`);
  return String(response.headers.etag ?? '');
}

async function writeChunks(storage: NodeStorage, attemptId: string, path: string, size: number, hash: string): Promise<void> {
  const uploadId = randomUUID();
  if (size === 0) {
    await ask(storage.ref, { type: 'write', attemptId, uploadId, hash, offset: 0, bytes: new Uint8Array(0), last: true }, CHUNK_TIMEOUT_MS);
    return;
  }
  let offset = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    const last = offset + chunk.length >= size;
    await ask(storage.ref, { type: 'write', attemptId, uploadId, hash, offset, bytes: chunk, last }, CHUNK_TIMEOUT_MS);
    offset += chunk.length;
    if (last) return;
  }
  throw new Error(`file ${path} shrank while it was stored: ${offset} of its ${size} bytes were read`);
}
