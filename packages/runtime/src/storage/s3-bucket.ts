import { createReadStream } from 'node:fs';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** An S3-compatible bucket and how to reach it. */
export interface S3Location {
  /** The bucket; it must exist. */
  bucket: string;
  /** Default: AWS's endpoint of the region. */
  endpoint?: string;
  /** Default `AWS_REGION`, or `us-east-1`. */
  region?: string;
  /** Address the bucket in the path (`ENDPOINT/BUCKET/KEY`) rather than the host name: MinIO, s3rver and most on-premises servers need it. */
  pathStyle?: boolean;
  /** Default: the AWS SDK's standard chain (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, shared config, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** How long a URL given to a node stays good. */
const PRESIGNED_TTL_S = 15 * 60;

/** One bucket as the storage service uses it: whole objects by key, ranges, presigned URLs. */
export class S3Bucket {
  private readonly client: S3Client;
  readonly name: string;

  constructor(location: S3Location) {
    this.name = location.bucket;
    this.client = new S3Client({
      region: location.region ?? process.env.AWS_REGION ?? 'us-east-1',
      forcePathStyle: location.pathStyle ?? false,
      ...(location.endpoint === undefined ? {} : { endpoint: location.endpoint }),
      ...(location.credentials === undefined ? {} : { credentials: location.credentials }),
      // The SDK's default checksums frame a streamed body as aws-chunked, which not every
      // S3-compatible server takes, and presigned PUTs must not carry a checksum of an empty body.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Resolves when the bucket exists and these credentials may use it; else rejects saying why. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.name }));
    } catch (error) {
      const status = (error as S3ServiceException).$metadata?.httpStatusCode;
      const why = status === 404 ? 'it does not exist' : status === 403 ? 'these credentials may not use it' : (error as Error).message || (error as Error).name;
      throw new Error(`bucket ${this.name} cannot be used: ${why}`);
    }
  }

  async putBytes(key: string, bytes: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: bytes, ContentLength: bytes.length }));
  }

  /** Puts the file at `path` (of `size` bytes) as a stream. */
  async putFile(key: string, path: string, size: number): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: createReadStream(path), ContentLength: size }));
  }

  /** `length` bytes from `offset`; `undefined` when there is no such object. */
  async getRange(key: string, offset: number, length: number): Promise<Buffer | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  /** The object's size; `undefined` when there is none. */
  async sizeOf(key: string): Promise<number | undefined> {
    try {
      return (await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }))).ContentLength;
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === 'NotFound') return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
  }

  /** Deletes every object whose key starts with `prefix`, but those `kept`; resolves with the deleted keys. */
  async deleteAll(prefix: string, kept: (key: string) => boolean = () => false): Promise<string[]> {
    const deleted: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }));
      for (const { Key } of page.Contents ?? []) {
        if (Key === undefined || kept(Key)) continue;
        await this.delete(Key);
        deleted.push(Key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return deleted;
  }

  presignGet(key: string): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.name, Key: key }), { expiresIn: PRESIGNED_TTL_S });
  }

  /** A URL that PUTs exactly `size` bytes: the length is signed. */
  presignPut(key: string, size: number): Promise<string> {
    const command = new PutObjectCommand({ Bucket: this.name, Key: key, ContentLength: size });
    return getSignedUrl(this.client, command, { expiresIn: PRESIGNED_TTL_S, signableHeaders: new Set(['content-length']) });
  }

  /** Begins a multipart upload of `key`; resolves with its upload id. */
  async createMultipart(key: string): Promise<string> {
    return (await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: key }))).UploadId!;
  }

  /** A URL that PUTs part `partNumber` of `length` bytes (the length is signed) of upload `uploadId` of `key`. */
  presignPart(key: string, uploadId: string, partNumber: number, length: number): Promise<string> {
    const command = new UploadPartCommand({ Bucket: this.name, Key: key, UploadId: uploadId, PartNumber: partNumber, ContentLength: length });
    return getSignedUrl(this.client, command, { expiresIn: PRESIGNED_TTL_S, signableHeaders: new Set(['content-length']) });
  }

  async completeMultipart(key: string, uploadId: string, parts: ReadonlyArray<{ partNumber: number; etag: string }>): Promise<void> {
    const Parts = parts.map(({ partNumber, etag }) => ({ PartNumber: partNumber, ETag: etag }));
    await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId, MultipartUpload: { Parts } }));
  }

  /**
   * Aborts upload `uploadId` of `key`: its parts are dropped and no object appears. An error the
   * server answers with (s3rver has no AbortMultipartUpload) leaves the parts unlisted and never
   * assembled, and is not thrown; one that did not reach the server is.
   */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (!(error instanceof S3ServiceException)) throw error;
    }
  }

  close(): void {
    this.client.destroy();
  }
}
