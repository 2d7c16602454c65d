// The ops of the storage bench. Node-agents import this module (by its URL) to run them, so the
// ops are exported from here and nothing else happens at import time.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LzyFile, op } from '@lzy/sdk';

const MIB = 1024 * 1024;

/** `mib` blocks of 1 MiB of a fixed pattern, each with its index in its first bytes. */
export function* benchBlocks(mib: number): Generator<Buffer> {
  const pattern = createHash('sha256').update('lzy storage bench').digest();
  for (let i = 0; i < mib; i++) {
    const block = Buffer.alloc(MIB, pattern);
    block.writeUInt32BE(i, 0);
    yield block;
  }
}

/** Writes the bench's `mib` MiB to a file at `path`. */
export async function writeBenchFile(path: string, mib: number): Promise<void> {
  await pipeline(Readable.from(benchBlocks(mib)), createWriteStream(path));
}

/** The sha256 (hex) of the file at `path`, read as a stream. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Writes the bench file in `dir` and returns it as a file value. */
export const writeFileValue = op({}, async (dir: string, mib: number) => {
  const path = join(dir, `bench-${process.pid}.bin`);
  await writeBenchFile(path, mib);
  return LzyFile.fromPath(path);
});

/** Hashes a file value from this node's disk. */
export const hashFileValue = op({}, async (file: LzyFile) => sha256OfFile(await file.path()));
