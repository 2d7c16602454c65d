import { randomUUID } from 'node:crypto';
import { LzyFile } from '@lzy/node-agent/file';
import { decodeValue, isFileRef } from '@lzy/node-agent/protocol';
import type { RuntimeConnection } from '@lzy/runtime';
import type { WhiteboardQuery } from '@lzy/runtime/protocol';
import type { Lazy } from './lazy.js';
import { storedFiles } from './stored-files.js';

/** A whiteboard used wrongly: a field assigned twice, a bad name or tag. */
export class WhiteboardError extends Error {
  override readonly name = 'WhiteboardError';
}

/**
 * A whiteboard as the workflow fills it: each field is assigned once, with a plain value or the
 * `Lazy` result of an op of the same workflow. It is stored when the workflow succeeds.
 */
export type Whiteboard<T extends Record<string, unknown>> = Partial<{ [K in keyof T]: T[K] | Lazy<T[K]> }>;

/** A finalized whiteboard as `lzy.whiteboards()` finds it, its fields read back as values. */
export interface StoredWhiteboard<T extends Record<string, unknown> = Record<string, unknown>> {
  id: string;
  name: string;
  tags: string[];
  workflowId: string;
  workflowName: string;
  createdAt: Date;
  finalizedAt: Date;
  fields: T;
}

/** What identifies a whiteboard to the runtime. */
export interface WhiteboardHeader {
  readonly whiteboardId: string;
  readonly name: string;
  readonly tags: string[];
  readonly createdAt: number;
}

const MAX_TAGS = 32;

/**
 * A new whiteboard: a record whose fields, once assigned, go to `assign` (the workflow run), and
 * whose second assignment of a field throws `WhiteboardError`.
 */
export function createWhiteboard<T extends Record<string, unknown>>(
  name: string,
  tags: string[],
  assign: (header: WhiteboardHeader, field: string, value: unknown) => void,
): Whiteboard<T> {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new WhiteboardError('a whiteboard needs a name of 1 to 256 characters');
  if (!Array.isArray(tags) || tags.length > MAX_TAGS || tags.some((tag) => typeof tag !== 'string' || tag.length === 0 || tag.length > 128)) {
    throw new WhiteboardError(`whiteboard ${name}: tags must be at most ${MAX_TAGS} strings of 1 to 128 characters`);
  }
  const header: WhiteboardHeader = { whiteboardId: randomUUID(), name, tags: [...tags], createdAt: Date.now() };
  const fields = new Map<string, unknown>();
  return new Proxy({} as Whiteboard<T>, {
    set(_target, field, value) {
      if (typeof field !== 'string' || field.length === 0 || field.length > 256) {
        throw new WhiteboardError(`whiteboard ${name}: a field name must be a string of 1 to 256 characters`);
      }
      if (fields.has(field)) throw new WhiteboardError(`field ${field} of whiteboard ${name} is already assigned; a whiteboard's fields are assigned once`);
      assign(header, field, value);
      fields.set(field, value);
      return true;
    },
    get: (_target, field) => (typeof field === 'string' ? fields.get(field) : undefined),
    has: (_target, field) => typeof field === 'string' && fields.has(field),
    ownKeys: () => [...fields.keys()],
    getOwnPropertyDescriptor: (_target, field) =>
      typeof field === 'string' && fields.has(field) ? { value: fields.get(field), writable: false, enumerable: true, configurable: true } : undefined,
    deleteProperty(_target, field) {
      throw new WhiteboardError(`field ${String(field)} of whiteboard ${name} cannot be deleted`);
    },
    defineProperty(_target, field) {
      throw new WhiteboardError(`whiteboard ${name}: assign field ${String(field)} with =`);
    },
  });
}

/** Which whiteboards `lzy.whiteboards()` finds: every given condition holds; `tags`: it has all of them. */
export interface WhiteboardFilter {
  name?: string;
  tags?: string[];
  /** Created at or after. */
  since?: Date | number;
  /** Created before. */
  until?: Date | number;
}

/** The tenant's finalized whiteboards matching `filter`, newest first, their fields decoded. */
export async function readWhiteboards<T extends Record<string, unknown>>(connection: RuntimeConnection, filter: WhiteboardFilter): Promise<StoredWhiteboard<T>[]> {
  const query: WhiteboardQuery = {};
  if (filter.name !== undefined) query.name = filter.name;
  if (filter.tags !== undefined) query.tags = filter.tags;
  if (filter.since !== undefined) query.since = timeOf(filter.since, 'since');
  if (filter.until !== undefined) query.until = timeOf(filter.until, 'until');
  const records = await connection.whiteboards(query);
  return Promise.all(
    records.map(async (record) => {
      const fields: Record<string, unknown> = {};
      for (const [field, ref] of Object.entries(record.fields)) {
        fields[field] = isFileRef(ref) ? LzyFile.remote(ref, storedFiles(connection)) : decodeValue(ref.inline ?? (await connection.getBlob(ref)));
      }
      return { ...record, createdAt: new Date(record.createdAt), finalizedAt: new Date(record.finalizedAt), fields: fields as T };
    }),
  );
}

function timeOf(value: Date | number, what: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (!Number.isFinite(ms) || ms < 0) throw new WhiteboardError(`whiteboards: ${what} must be a valid Date or a time in ms since the epoch`);
  return Math.floor(ms);
}
