import type { FileSource } from '@lzy/node-agent/file';
import { CHUNK_BYTES, type FileRef } from '@lzy/node-agent/protocol';
import type { RuntimeConnection } from '@lzy/runtime';

/** Stored file values read through `connection`, one chunk at a time: never whole in memory. */
export function storedFiles(connection: Pick<RuntimeConnection, 'readBlob'>): FileSource {
  return {
    async *chunks(ref: FileRef) {
      for (let offset = 0; offset < ref.size; ) {
        const chunk = await connection.readBlob(ref.uri, offset, Math.min(CHUNK_BYTES, ref.size - offset));
        if (chunk.length === 0) throw new Error(`file ${ref.uri} ended at ${offset} bytes; its ref says ${ref.size}`);
        offset += chunk.length;
        yield chunk;
      }
    },
  };
}
