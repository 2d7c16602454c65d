import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Database, RootDatabase } from 'lmdb';
import { hashBytes, storedRef, type MultipartUpload, type StoredRef } from '@lzy/node-agent/protocol';
import { checkedHash, hashOfUri } from './blob-uri.js';
import { noSuchBlob, type BlobStore, type UploadChunk } from './blob-store.js';
import { hashFile } from './file-store.js';

/** An S3-compatible bucket (`lzy server --storage s3`, or `Lzy.start({ storage: { s3 } })`). */
export interface S3StorageConfig {
  /** The bucket; it must exist. */
  bucket: string;
  /** Keys start with `PREFIX/` (no prefix by default). */
  prefix?: string;
  /** Default: AWS's endpoint of the region. */
  endpoint?: string;
  /** Default `AWS_REGION`, or `us-east-1`. */
  region?: string;
  /** Address the bucket in the path (`ENDPOINT/BUCKET/KEY`) rather than the host name: MinIO, s3rver and most on-premises servers need it. */
  pathStyle?: boolean;
  /** Default: the AWS SDK's standard chain (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, shared config, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Where one blob of a tenant is: the run it was written for, and its size. */
interface Location {
  readonly workflowId: string;
  readonly size: number;
}

/** A multipart upload begun and neither completed nor aborted yet. */
interface OpenUpload {
  readonly tenant: string;
  readonly workflowId: string;
  /** The attempt whose output it is: when that attempt ends, the upload is given up if still open. */
  readonly attemptId: string;
  readonly hash: string;
  readonly size: number;
  readonly partSize: number;
}

/** The smallest part of a multipart upload; a part count of at most MAX_PARTS makes it larger for larger files. */
const MIN_PART_BYTES = 64 * 1024 * 1024;
const MAX_PARTS = 10_000;

/** How long a URL given to a node stays good. */
const PRESIGNED_TTL_S = 15 * 60;

/**
 * Blobs in an S3 bucket: a run's values under `PREFIX/TENANT/WORKFLOW_ID/HASH`. Which run's copy
 * a tenant's blob is read from is kept in the runtime's lmdb state (`blob-locations`), written
 * only once the object is whole in the bucket. Nodes get presigned URLs for exactly the objects
 * they may touch, never credentials; a presigned PUT signs its `Content-Length`. Clients' chunked
 * uploads are staged on disk and put whole once their hash checks, so memory holds one chunk.
 */
export class S3Store implements BlobStore {
  private readonly client: S3Client;
  private readonly locations: Database<Location, [string, string]>;
  /** By upload id: tracked here, since not every S3-compatible server lists open uploads (s3rver does not). */
  private readonly uploads: Database<OpenUpload, string>;
  private readonly prefix: string;

  constructor(
    private readonly config: S3StorageConfig,
    root: RootDatabase,
    private readonly stagingDir: string,
  ) {
    this.client = new S3Client({
      region: config.region ?? process.env.AWS_REGION ?? 'us-east-1',
      forcePathStyle: config.pathStyle ?? false,
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
      ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
      // The SDK's default checksums frame a streamed body as aws-chunked, which not every
      // S3-compatible server takes, and presigned PUTs must not carry a checksum of an empty body.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.locations = root.openDB<Location, [string, string]>({ name: 'blob-locations' });
    this.uploads = root.openDB<OpenUpload, string>({ name: 'open-uploads' });
    this.prefix = (config.prefix ?? '').replace(/^\/+|\/+$/g, '');
  }

  /** The object key of blob `hash` of run `workflowId` of `tenant`. */
  keyOf(tenant: string, workflowId: string, hash: string): string {
    const parts = [encodeURIComponent(tenant), encodeURIComponent(workflowId), checkedHash(hash)];
    return (this.prefix === '' ? parts : [this.prefix, ...parts]).join('/');
  }

  private located(tenant: string, uri: string): { key: string; location: Location } {
    const hash = hashOfUri(uri);
    const location = this.locations.get([tenant, hash]);
    if (!location) throw noSuchBlob(uri);
    return { key: this.keyOf(tenant, location.workflowId, hash), location };
  }

  async put(tenant: string, workflowId: string, bytes: Buffer): Promise<StoredRef> {
    const hash = hashBytes(bytes);
    if (this.locations.get([tenant, hash])?.workflowId !== workflowId) {
      await this.client.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: this.keyOf(tenant, workflowId, hash), Body: bytes, ContentLength: bytes.length }));
      await this.locations.put([tenant, hash], { workflowId, size: bytes.length });
    }
    return storedRef(hash, bytes.length);
  }

  async get(tenant: string, uri: string): Promise<Buffer> {
    const { key, location } = this.located(tenant, uri);
    return location.size === 0 ? Buffer.alloc(0) : this.getRange(uri, key, 0, location.size);
  }

  async read(tenant: string, uri: string, offset: number, length: number): Promise<Buffer> {
    const { key, location } = this.located(tenant, uri);
    const end = Math.min(offset + length, location.size);
    return end <= offset ? Buffer.alloc(0) : this.getRange(uri, key, offset, end - offset);
  }

  private async getRange(uri: string, key: string, offset: number, length: number): Promise<Buffer> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === 'NoSuchKey') throw noSuchBlob(uri);
      throw error;
    }
  }

  async writeChunk(tenant: string, workflowId: string, upload: UploadChunk): Promise<void> {
    const hash = checkedHash(upload.hash);
    await mkdir(this.stagingDir, { recursive: true });
    const staged = join(this.stagingDir, `${encodeURIComponent(tenant)}.${encodeURIComponent(upload.uploadId)}.upload`);
    const file = await open(staged, upload.offset === 0 ? 'w' : 'r+');
    let size: number;
    try {
      await file.write(upload.bytes, 0, upload.bytes.length, upload.offset);
      size = (await file.stat()).size;
    } finally {
      await file.close();
    }
    if (!upload.last) return;
    try {
      const actual = await hashFile(staged);
      if (actual !== hash) throw new Error(`upload ${upload.uploadId}: content hash ${actual} does not match the declared ${hash}`);
      await this.client.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: this.keyOf(tenant, workflowId, hash), Body: createReadStream(staged), ContentLength: size }));
      await this.locations.put([tenant, hash], { workflowId, size });
    } finally {
      await rm(staged, { force: true });
    }
  }

  async presignRead(tenant: string, uri: string): Promise<string> {
    const { key } = this.located(tenant, uri);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.config.bucket, Key: key }), { expiresIn: PRESIGNED_TTL_S });
  }

  async presignWrite(tenant: string, workflowId: string, hash: string, size: number): Promise<string> {
    const command = new PutObjectCommand({ Bucket: this.config.bucket, Key: this.keyOf(tenant, workflowId, hash), ContentLength: size });
    return getSignedUrl(this.client, command, { expiresIn: PRESIGNED_TTL_S, signableHeaders: new Set(['content-length']) });
  }

  async commit(tenant: string, workflowId: string, hash: string, size: number): Promise<void> {
    const key = this.keyOf(tenant, workflowId, hash);
    let stored: number | undefined;
    try {
      stored = (await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }))).ContentLength;
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === 'NotFound') throw new Error(`blob ${hash} was not uploaded`);
      throw error;
    }
    if (stored !== size) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
      throw new Error(`blob ${hash} was uploaded with ${stored} bytes, not the ${size} declared`);
    }
    await this.locations.put([tenant, hash], { workflowId, size });
  }

  async createMultipart(tenant: string, workflowId: string, attemptId: string, hash: string, size: number): Promise<MultipartUpload> {
    const partSize = Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PARTS / 1024 ** 2) * 1024 ** 2);
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.config.bucket, Key: this.keyOf(tenant, workflowId, hash) }));
    const uploadId = created.UploadId!;
    await this.uploads.put(uploadId, { tenant, workflowId, attemptId, hash, size, partSize });
    return { uploadId, partSize };
  }

  /** The open upload `uploadId` of the tenant's attempt; throws when it has none by that id. */
  private openUpload(tenant: string, attemptId: string, uploadId: string): OpenUpload {
    const upload = this.uploads.get(uploadId);
    if (upload?.tenant !== tenant || upload.attemptId !== attemptId) throw new Error(`attempt ${attemptId} has no open upload ${uploadId}`);
    return upload;
  }

  async presignPart(tenant: string, attemptId: string, uploadId: string, partNumber: number): Promise<string> {
    const { workflowId, hash, size, partSize } = this.openUpload(tenant, attemptId, uploadId);
    const length = Math.min(partSize, size - (partNumber - 1) * partSize);
    if (length <= 0) throw new Error(`upload ${uploadId} of ${size} bytes in parts of ${partSize} has no part ${partNumber}`);
    const command = new UploadPartCommand({ Bucket: this.config.bucket, Key: this.keyOf(tenant, workflowId, hash), UploadId: uploadId, PartNumber: partNumber, ContentLength: length });
    return getSignedUrl(this.client, command, { expiresIn: PRESIGNED_TTL_S, signableHeaders: new Set(['content-length']) });
  }

  async completeMultipart(tenant: string, attemptId: string, uploadId: string, parts: ReadonlyArray<{ partNumber: number; etag: string }>): Promise<void> {
    const { workflowId, hash, size } = this.openUpload(tenant, attemptId, uploadId);
    const Parts = parts.map(({ partNumber, etag }) => ({ PartNumber: partNumber, ETag: etag }));
    await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.config.bucket, Key: this.keyOf(tenant, workflowId, hash), UploadId: uploadId, MultipartUpload: { Parts } }));
    await this.uploads.remove(uploadId);
    await this.commit(tenant, workflowId, hash, size);
  }

  async abortMultipart(tenant: string, attemptId: string, uploadId: string): Promise<void> {
    this.openUpload(tenant, attemptId, uploadId);
    await this.abort(uploadId);
  }

  async abortUploads(attemptId?: string): Promise<void> {
    for (const { key, value } of this.uploads.getRange()) {
      if (attemptId === undefined || value.attemptId === attemptId) await this.abort(key);
    }
  }

  /**
   * Aborts an open upload: its parts are dropped and no object appears. A server that answers the
   * abort with an error it knows of (s3rver has no AbortMultipartUpload) keeps the parts, unlisted
   * and never assembled; the upload is forgotten either way. It is kept when the server was not
   * reached, to be given up at the next start.
   */
  private async abort(uploadId: string): Promise<void> {
    const upload = this.uploads.get(uploadId);
    if (!upload) return;
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.config.bucket, Key: this.keyOf(upload.tenant, upload.workflowId, upload.hash), UploadId: uploadId }));
    } catch (error) {
      if (!(error instanceof S3ServiceException)) throw error;
    }
    await this.uploads.remove(uploadId);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
