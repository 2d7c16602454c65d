import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Database, RootDatabase } from 'lmdb';
import { hashBytes, storedRef, type StoredRef } from '@lzy/node-agent/protocol';
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

  async close(): Promise<void> {
    this.client.destroy();
  }
}
