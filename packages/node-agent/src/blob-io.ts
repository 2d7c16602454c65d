import { randomUUID } from 'node:crypto';
import { ask, type ActorRef } from '@lzy/actors';
import { CHUNK_BYTES, type StorageWireMsg } from './protocol/agent.js';
import { hashBytes, uriOf, type DataRef } from './protocol/data.js';

type Write = Extract<StorageWireMsg, { type: 'write' }>;
type Read = Extract<StorageWireMsg, { type: 'read' }>;

/** The runtime's storage as asks see it: a write is acknowledged with `true`, a read answers the bytes. */
export type StorageRef = ActorRef<(Write & { replyTo: ActorRef<true> }) | (Read & { replyTo: ActorRef<Uint8Array> })>;

/** How long one chunk may take. */
const CHUNK_TIMEOUT_MS = 30_000;

/** The stored content does not match its ref (wrong hash or size). */
export class BadBlobError extends Error {
  override readonly name = 'BadBlobError';
}

/** Reads the blob `ref` points at, in chunks, and checks it against the ref's size and hash. */
export async function readBlob(storage: StorageRef, ref: Pick<DataRef, 'uri' | 'size' | 'hash'>): Promise<Buffer> {
  const uri = uriOf(ref);
  const bytes = Buffer.allocUnsafe(ref.size);
  let offset = 0;
  while (offset < ref.size) {
    const length = Math.min(CHUNK_BYTES, ref.size - offset);
    const chunk = await ask(storage, { type: 'read', uri, offset, length }, CHUNK_TIMEOUT_MS);
    if (chunk.length === 0 || chunk.length > length) {
      throw new BadBlobError(`blob ${uri} answered ${chunk.length} bytes at offset ${offset}; its ref says it has ${ref.size}`);
    }
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  const hash = hashBytes(bytes);
  if (hash !== ref.hash) throw new BadBlobError(`blob ${uri} has sha256 ${hash}; its ref says ${ref.hash}`);
  return bytes;
}

/** Writes `bytes` (whose ref is `ref`), the output of attempt `attemptId`, to storage in chunks; resolves once the last one is committed. */
export async function writeBlob(storage: StorageRef, attemptId: string, ref: DataRef, bytes: Uint8Array): Promise<void> {
  const uploadId = randomUUID();
  for (let offset = 0; ; offset += CHUNK_BYTES) {
    const end = Math.min(offset + CHUNK_BYTES, bytes.length);
    const last = end === bytes.length;
    await ask(storage, { type: 'write', attemptId, uploadId, hash: ref.hash, offset, bytes: bytes.subarray(offset, end), last }, CHUNK_TIMEOUT_MS);
    if (last) return;
  }
}
