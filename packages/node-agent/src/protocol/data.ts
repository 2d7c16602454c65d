import { hash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { Packr } from 'msgpackr';
import { FILE_VALUE } from './file-value.js';

const sizeAndHash = {
  size: Type.Integer({ minimum: 0 }),
  hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
};
const refFields = { ...sizeAndHash, codec: Type.Literal('msgpack') };
const Uri = Type.String({ maxLength: 2048 });

/**
 * A value an op reads or writes. A small value travels inline in the message (`inline`, no `uri`:
 * it is stored nowhere); a larger one lives in storage at `uri` and is streamed. `hash` (sha256 of
 * the encoded bytes, hex) identifies the content, so equal values have equal refs whatever
 * produced them. (An inline ref may also carry a `uri`: refs journaled by earlier versions did.)
 * A file value (`codec: 'file'`, an `LzyFile`) is the file's bytes as they are, always stored,
 * never inline: it is streamed between disks and storage, never decoded in memory.
 */
export const DataRef = Type.Unsafe<DataRef>(
  Type.Union([
    Type.Object({ ...refFields, inline: Type.Uint8Array(), uri: Type.Optional(Uri) }, { additionalProperties: false }),
    Type.Object({ ...refFields, uri: Uri }, { additionalProperties: false }),
    Type.Object({ ...sizeAndHash, codec: Type.Literal('file'), uri: Uri }, { additionalProperties: false }),
  ]),
);
/** A `DataRef` as code reads it: `inline` or `uri` is set (the schema checks that one is; a `file` ref has `uri`). */
export interface DataRef {
  uri?: string;
  size: number;
  hash: string;
  /** `msgpack`: an encoded value (`decodeValue`); `file`: a file's raw bytes. */
  codec: 'msgpack' | 'file';
  inline?: Uint8Array;
}

/** A ref of a file value: the file's bytes, stored. */
export type FileRef = DataRef & { uri: string; codec: 'file' };

export { FILE_VALUE };

/** Values whose encoding is at most this many bytes travel inline. */
export const INLINE_LIMIT = 64 * 1024;

/**
 * Objects are encoded as msgpackr records whose definitions travel inside each value, so that msgpack
 * maps can decode as `Map`s (`mapsAsObjects: false`) while plain objects stay objects. The encoding
 * of a value is deterministic: equal values (same key order) give equal bytes, hence equal hashes.
 */
const packr = new Packr({ moreTypes: true, structuredClone: true, mapsAsObjects: false });
/** The same encoding for a value that is no object: with nothing to share or cycle, it needs no map of the objects seen. */
const primitivePackr = new Packr({ moreTypes: true, mapsAsObjects: false });

/** A value that cannot travel to another process: the error names where in it the problem is. */
export class UnencodableValueError extends TypeError {
  override readonly name = 'UnencodableValueError';
}

/**
 * Encodes a user value (plain data, Date, Map, Set, typed arrays, BigInt, cycles) to bytes. A
 * function, symbol, promise, WeakMap or WeakSet anywhere in it is refused with
 * `UnencodableValueError` rather than silently dropped. Class instances travel as plain objects.
 */
export function encodeValue(value: unknown): Buffer {
  const type = typeof value;
  if (value === null || (type !== 'object' && type !== 'function' && type !== 'symbol')) return primitivePackr.pack(value);
  checkEncodable(value, 'value');
  return packr.pack(value);
}

/** @param seen the objects checked already (cycles); made at the first object, so a primitive costs none */
function checkEncodable(value: unknown, path: string, seen?: Set<object>): void {
  switch (typeof value) {
    case 'function':
      throw new UnencodableValueError(`${path} is a function; only data can be passed between ops`);
    case 'symbol':
      throw new UnencodableValueError(`${path} is a symbol; only data can be passed between ops`);
    case 'object':
      break;
    default:
      return;
  }
  if (value === null || ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp || seen?.has(value)) return;
  if (FILE_VALUE in value) {
    throw new UnencodableValueError(`${path} is an LzyFile; a file travels only as a whole argument or result of an op, not inside another value`);
  }
  if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
    const fix = value instanceof Promise ? 'await it first' : 'it cannot be copied; pass plain data';
    throw new UnencodableValueError(`${path} is a ${value.constructor.name}; ${fix}`);
  }
  const visited = seen ?? new Set<object>();
  visited.add(value);
  if (Array.isArray(value)) value.forEach((item, i) => checkEncodable(item, `${path}[${i}]`, visited));
  else if (value instanceof Map) value.forEach((item, key) => (checkEncodable(key, `a key of ${path}`, visited), checkEncodable(item, `${path}.get(${String(key)})`, visited)));
  else if (value instanceof Set) value.forEach((item) => checkEncodable(item, `an item of ${path}`, visited));
  else for (const key of Object.keys(value)) checkEncodable((value as Record<string, unknown>)[key], `${path}.${key}`, visited);
}

/** Decodes bytes made by `encodeValue`. */
export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** sha256 of `bytes`, hex. */
export function hashBytes(bytes: Uint8Array): string {
  return hash('sha256', bytes);
}

/** The storage URI of content with hash `hash`. */
export function blobUri(hash: string): string {
  return `blob:${hash}`;
}

/** A ref whose bytes are in storage. */
export type StoredRef = DataRef & { uri: string };

/** The ref of bytes stored as the blob named by their hash. */
export function storedRef(hash: string, size: number): StoredRef {
  return { uri: blobUri(hash), size, hash, codec: 'msgpack' };
}

/** The ref of a file with content hash `hash` and `size` bytes, stored as the blob named by its hash. */
export function fileRef(hash: string, size: number): FileRef {
  return { uri: blobUri(hash), size, hash, codec: 'file' };
}

/** Whether `ref` is a file value's. */
export function isFileRef(ref: DataRef): ref is FileRef {
  return ref.codec === 'file';
}

/** Where the bytes of a ref are stored; throws for an inline ref that has no storage location. */
export function uriOf(ref: Pick<DataRef, 'uri' | 'hash'>): string {
  if (ref.uri === undefined) throw new TypeError(`the value ${ref.hash} travels inline and is stored nowhere`);
  return ref.uri;
}

/** A ref for encoded bytes: inline when small, else pointing at the blob the caller must store. */
export function refFor(bytes: Buffer): DataRef {
  const hash = hashBytes(bytes);
  return bytes.length <= INLINE_LIMIT ? { size: bytes.length, hash, codec: 'msgpack', inline: bytes } : storedRef(hash, bytes.length);
}
