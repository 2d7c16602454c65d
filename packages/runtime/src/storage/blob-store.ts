import type { MultipartUpload, StoredRef } from '@lzy/node-agent/protocol';

/** One chunk of an upload, as a client or a node sends it: `last` commits the blob under `hash`. */
export interface UploadChunk {
  readonly uploadId: string;
  readonly hash: string;
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly last: boolean;
}

/**
 * Where the blobs of runs live: content-addressed (`blob:<sha256>`), each tenant's apart, each
 * written as part of one run (`workflowId`), which a backend may use to place it. The runtime's
 * storage service and gateway go through this, never a backend itself.
 */
export interface BlobStore {
  /** Stores whole bytes (their hash is computed here) as a value of run `workflowId`; returns the blob's ref. */
  put(tenant: string, workflowId: string, bytes: Buffer): Promise<StoredRef>;
  /** The whole blob; rejects with `code: 'ENOENT'` when the tenant has none at `uri`. */
  get(tenant: string, uri: string): Promise<Buffer>;
  /** Reads up to `length` bytes from `offset`; fewer at the end of the blob. `ENOENT` as `get`. */
  read(tenant: string, uri: string, offset: number, length: number): Promise<Buffer>;
  /** Writes one chunk of an upload of run `workflowId`; the last chunk checks the hash and publishes the blob. */
  writeChunk(tenant: string, workflowId: string, upload: UploadChunk): Promise<void>;
  /** A URL to GET the blob at `uri` with, or `undefined` when this backend serves reads in chunks only. */
  presignRead(tenant: string, uri: string): Promise<string | undefined>;
  /**
   * A URL to PUT exactly `size` bytes with hash `hash`, a value of run `workflowId`, or `undefined`
   * when this backend takes writes in chunks only. Without `hash`: a URL where the backend names
   * the blob by hashing it as it arrives (the PUT's answer has the hash as its ETag), or
   * `undefined` when the writer must name it. The blob is stored once `commit` has seen it.
   */
  presignWrite(tenant: string, workflowId: string, hash: string | undefined, size: number): Promise<string | undefined>;
  /** The blob written through `presignWrite` is there, whole: it is published. Rejects when it is missing or of another size. */
  commit(tenant: string, workflowId: string, hash: string, size: number): Promise<void>;
  /** Whether the tenant's blob at `uri` is stored (as far as this runtime's state knows). */
  has(tenant: string, uri: string): boolean;
  /**
   * Run `workflowId` uses the tenant's blobs at `uris` (a bundle shipped before, a cached result, a
   * value passed on): where storage expires, they stay at least as long as the run's own values.
   * Written in order with the runtime's journal: a submission journaled after it has its blobs held.
   */
  hold(tenant: string, workflowId: string, uris: Iterable<string>): Promise<void>;
  /**
   * The temporary storage of run `workflowId` has expired: its values go, where the backend keeps a
   * run's values apart, but for those another run still holds; what it held is let go.
   */
  expire(tenant: string, workflowId: string): Promise<void>;
  /**
   * Begins a multipart upload of `size` bytes with hash `hash`, an output of attempt `attemptId` of
   * run `workflowId`, or `undefined` when this backend takes writes in chunks only. The upload is
   * open until completed or aborted; `abortUploads` gives up those an attempt left open.
   */
  createMultipart(tenant: string, workflowId: string, attemptId: string, hash: string, size: number): Promise<MultipartUpload | undefined>;
  /** A URL to PUT part `partNumber` (exactly its bytes) of an open upload of the tenant's attempt `attemptId`. */
  presignPart(tenant: string, attemptId: string, uploadId: string, partNumber: number): Promise<string>;
  /** Completes an open upload of the tenant's attempt with its parts' ETags: the blob is published once whole and of the declared size. */
  completeMultipart(tenant: string, attemptId: string, uploadId: string, parts: ReadonlyArray<{ partNumber: number; etag: string }>): Promise<void>;
  /** Gives up an open upload of the tenant's attempt: nothing of it is ever visible. */
  abortMultipart(tenant: string, attemptId: string, uploadId: string): Promise<void>;
  /** Gives up every open upload of attempt `attemptId` (it ended), or every open upload at all (none can go on: the runtime just started). */
  abortUploads(attemptId?: string): Promise<void>;
  /** Lets go of connections and open files. */
  close(): Promise<void>;
}

/** An error whose `code` is `ENOENT`: the tenant has no such blob. */
export function noSuchBlob(uri: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`no blob ${uri}`), { code: 'ENOENT' });
}
