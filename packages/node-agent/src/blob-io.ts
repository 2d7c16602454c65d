import { randomUUID } from 'node:crypto';
import { ask, type ActorRef } from '@lzy/actors';
import { CHUNK_BYTES, type StorageWireMsg } from './protocol/agent.js';
import { hashBytes, uriOf, type DataRef } from './protocol/data.js';

type Write = Extract<StorageWireMsg, { type: 'write' }>;
type Read = Extract<StorageWireMsg, { type: 'read' }>;
type Presign = Extract<StorageWireMsg, { type: 'presign-read' | 'presign-write' | 'multipart-part' }>;
type Commit = Extract<StorageWireMsg, { type: 'commit' | 'multipart-complete' | 'multipart-abort' }>;
type Create = Extract<StorageWireMsg, { type: 'multipart-create' }>;

/**
 * The runtime's storage as asks see it: a write or commit is acknowledged with `true`, a read
 * answers the bytes, a presign a URL or `null` (that storage moves blobs in chunks only), a
 * multipart create its upload or `null`.
 */
export type StorageRef = ActorRef<
  | (Write & { replyTo: ActorRef<true> })
  | (Read & { replyTo: ActorRef<Uint8Array> })
  | (Presign & { replyTo: ActorRef<unknown> })
  | (Commit & { replyTo: ActorRef<true> })
  | (Create & { replyTo: ActorRef<unknown> })
>;

/**
 * The runtime's storage as a node reaches it: asks to its actor, and the HTTP address of the
 * runtime the node connected to, which the signed paths it answers (the file store's) resolve against.
 */
export interface NodeStorage {
  readonly ref: StorageRef;
  readonly http: string;
}

/** The HTTP address of the runtime a node reaches at the ws address `server`. */
export function httpAddressOf(server: string): string {
  return server.replace(/^ws(s?):/, 'http$1:');
}

/** How long one chunk, presign or commit may take. */
export const CHUNK_TIMEOUT_MS = 30_000;
/** How long one whole transfer through a presigned URL may take. */
export const TRANSFER_TIMEOUT_MS = 30 * 60_000;

/** The stored content does not match its ref (wrong hash or size). */
export class BadBlobError extends Error {
  override readonly name = 'BadBlobError';
}

/** The presign answer, checked: it crossed a process boundary. */
export async function presigned(storage: NodeStorage, request: Presign): Promise<string | undefined> {
  const url = await ask(storage.ref, request, CHUNK_TIMEOUT_MS);
  if (url === null) return undefined;
  if (typeof url === 'string' && /^https?:\/\//.test(url)) return url;
  if (typeof url === 'string' && url.startsWith('/')) return new URL(url, storage.http).href;
  throw new Error(`the runtime answered ${request.type} with ${typeof url === 'string' ? 'a string that is neither an http(s) URL nor a path' : typeof url}`);
}

/** Reads the blob `ref` points at (through a presigned URL where storage gives one, else in chunks) and checks it against the ref's size and hash. */
export async function readBlob(storage: NodeStorage, ref: Pick<DataRef, 'uri' | 'size' | 'hash'>): Promise<Buffer> {
  const uri = uriOf(ref);
  const url = await presigned(storage, { type: 'presign-read', uri });
  const bytes = url === undefined ? await readChunks(storage, uri, ref.size) : await download(url, uri);
  if (bytes.length !== ref.size) throw new BadBlobError(`blob ${uri} has ${bytes.length} bytes; its ref says ${ref.size}`);
  const hash = hashBytes(bytes);
  if (hash !== ref.hash) throw new BadBlobError(`blob ${uri} has sha256 ${hash}; its ref says ${ref.hash}`);
  return bytes;
}

async function readChunks(storage: NodeStorage, uri: string, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const length = Math.min(CHUNK_BYTES, size - offset);
    const chunk = await ask(storage.ref, { type: 'read', uri, offset, length }, CHUNK_TIMEOUT_MS);
    if (chunk.length === 0 || chunk.length > length) {
      throw new BadBlobError(`blob ${uri} answered ${chunk.length} bytes at offset ${offset}; its ref says it has ${size}`);
    }
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function download(url: string, uri: string): Promise<Buffer> {
  const response = await fetch(url, { signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`storage answered ${response.status} ${response.statusText} to the read of blob ${uri}`);
  return Buffer.from(await response.arrayBuffer());
}

/**
 * Writes `bytes` (whose ref is `ref`), the output of attempt `attemptId`, to storage: through a
 * presigned URL, then committed, where storage gives one, else in chunks. Resolves once stored.
 */
export async function writeBlob(storage: NodeStorage, attemptId: string, ref: DataRef, bytes: Uint8Array): Promise<void> {
  const { hash } = ref;
  const url = await presigned(storage, { type: 'presign-write', attemptId, hash, size: bytes.length });
  if (url === undefined) return writeChunks(storage, attemptId, hash, bytes);
  const response = await fetch(url, { method: 'PUT', body: bytes, signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS) });
  // The answer's body says why it failed; a URL is never repeated in the error (it is a credential while it lasts).
  if (!response.ok) throw new Error(`storage answered ${response.status} ${response.statusText} to the upload of blob ${hash}: ${(await response.text()).slice(0, 500)}`);
  await ask(storage.ref, { type: 'commit', attemptId, hash, size: bytes.length }, CHUNK_TIMEOUT_MS);
}

async function writeChunks(storage: NodeStorage, attemptId: string, hash: string, bytes: Uint8Array): Promise<void> {
  const uploadId = randomUUID();
  for (let offset = 0; ; offset += CHUNK_BYTES) {
    const end = Math.min(offset + CHUNK_BYTES, bytes.length);
    const last = end === bytes.length;
    await ask(storage.ref, { type: 'write', attemptId, uploadId, hash, offset, bytes: bytes.subarray(offset, end), last }, CHUNK_TIMEOUT_MS);
    if (last) return;
  }
}
