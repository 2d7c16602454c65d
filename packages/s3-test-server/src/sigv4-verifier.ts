import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { ALGORITHM_IDENTIFIER, getSigningKey, SignatureV4, UNSIGNED_PAYLOAD } from '@smithy/signature-v4';
import type { S3Key } from './keys.js';

/** A request as it reached the server: what its signature covers. */
export interface ReceivedRequest {
  readonly method: string;
  /** The path and query exactly as sent (still percent-encoded). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** The verdict on a request: accepted (with the body hash it promised), or refused as S3 refuses. */
export type Verdict =
  | { readonly ok: true; readonly accessKeyId: string; readonly payloadHash: string }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

/** How far a header-signed request's date may be from now, as S3 allows. */
const MAX_SKEW_MS = 15 * 60_000;
/** The longest a presigned URL may live (7 days), as S3 allows. */
const MAX_EXPIRES_S = 604_800;

const refuse = (code: string, message: string, status = 403): Verdict => ({ ok: false, status, code, message });

/**
 * Checks AWS Signature Version 4 of S3 requests, signed in the Authorization header or presigned in
 * the query, with the signing code of the AWS SDK itself (`@smithy/signature-v4`): the canonical
 * request is rebuilt from what was received, so an edited path, query, signed header or method,
 * another key's secret, an expired URL or a missing signature is refused. The payload hash is
 * returned for the caller to check against the body as it streams.
 * A chunk-signed (`STREAMING-…`) body's chunk signatures are not checked, only its seed signature.
 */
export class SigV4Verifier extends SignatureV4 {
  private readonly secrets: ReadonlyMap<string, string>;

  constructor(
    keys: readonly S3Key[],
    private readonly region: string,
  ) {
    super({ service: 's3', region, credentials: { accessKeyId: '', secretAccessKey: '' }, sha256: Sha256, uriEscapePath: false });
    this.secrets = new Map(keys.map((key) => [key.accessKeyId, key.secretAccessKey]));
  }

  /** The verdict on `received` at `now`. */
  async verify(received: ReceivedRequest, now = Date.now()): Promise<Verdict> {
    const url = new URL(received.url, 'http://front');
    const presigned = url.searchParams.has('X-Amz-Signature');
    const authorization = header(received.headers, 'authorization');
    if (!presigned && authorization === undefined) return refuse('AccessDenied', 'the request is not signed');
    const claim = presigned ? fromQuery(url.searchParams, received.headers) : fromHeader(authorization!, received.headers);
    if (typeof claim === 'string') return refuse('AuthorizationQueryParametersError', claim, 400);

    const [accessKeyId, shortDate, region, service, terminator] = claim.credential.split('/');
    const secretAccessKey = accessKeyId === undefined ? undefined : this.secrets.get(accessKeyId);
    if (secretAccessKey === undefined) return refuse('InvalidAccessKeyId', `the access key id ${accessKeyId ?? ''} is not known`);
    if (region !== this.region || service !== 's3' || terminator !== 'aws4_request' || shortDate !== claim.longDate.slice(0, 8)) {
      return refuse('AuthorizationHeaderMalformed', `the credential scope ${claim.credential.split('/').slice(1).join('/')} is not for s3 in ${this.region} on the request's date`, 400);
    }
    const signedAt = parseLongDate(claim.longDate);
    if (signedAt === undefined) return refuse('AccessDenied', `bad signing date ${claim.longDate}`);
    if (presigned) {
      const expires = Number(url.searchParams.get('X-Amz-Expires'));
      if (!Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES_S) return refuse('AuthorizationQueryParametersError', `X-Amz-Expires must be 1 to ${MAX_EXPIRES_S} seconds`, 400);
      if (now > signedAt + expires * 1000) return refuse('AccessDenied', 'Request has expired');
    } else if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
      return refuse('RequestTimeTooSkewed', "the difference between the request time and the server's time is too large");
    }
    if (!claim.signedHeaders.includes('host')) return refuse('AccessDenied', 'the host header is not signed');

    const canonicalHeaders: Record<string, string> = {};
    for (const name of claim.signedHeaders) {
      const value = header(received.headers, name);
      if (value === undefined) return refuse('AccessDenied', `the signed header ${name} is missing`);
      canonicalHeaders[name] = value.trim().replace(/\s+/g, ' ');
    }
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of url.searchParams) {
      const seen = query[key];
      query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    const request = new HttpRequest({ method: received.method, path: rawPath(received.url), query, headers: canonicalHeaders });
    const canonical = this.createCanonicalRequest(request, canonicalHeaders, claim.payloadHash);
    const stringToSign = await this.createStringToSign(claim.longDate, claim.credential.split('/').slice(1).join('/'), canonical, ALGORITHM_IDENTIFIER);
    const key = await getSigningKey(Sha256, { accessKeyId: accessKeyId!, secretAccessKey }, shortDate, region, 's3');
    const hmac = new Sha256(key);
    hmac.update(stringToSign);
    const expected = Buffer.from(await hmac.digest());
    const given = Buffer.from(claim.signature, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return refuse('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
    }
    return { ok: true, accessKeyId: accessKeyId!, payloadHash: claim.payloadHash };
  }
}

/** What a request claims about its signature. */
interface Claim {
  readonly credential: string;
  readonly longDate: string;
  readonly signedHeaders: string[];
  readonly signature: string;
  readonly payloadHash: string;
}

function fromHeader(authorization: string, headers: IncomingHttpHeaders): Claim | string {
  const match = /^AWS4-HMAC-SHA256 (.*)$/.exec(authorization);
  if (!match) return 'the Authorization header is not AWS4-HMAC-SHA256';
  const parts = new Map(match[1]!.split(',').map((part) => part.trim().split('=', 2) as [string, string]));
  const credential = parts.get('Credential');
  const signedHeaders = parts.get('SignedHeaders');
  const signature = parts.get('Signature');
  const longDate = header(headers, 'x-amz-date');
  const payloadHash = header(headers, 'x-amz-content-sha256');
  if (!credential || !signedHeaders || !signature || !longDate) return 'the Authorization header needs Credential, SignedHeaders and Signature, and the request an x-amz-date';
  if (!payloadHash) return 'a header-signed S3 request needs x-amz-content-sha256';
  return { credential, longDate, signedHeaders: signedHeaders.split(';'), signature, payloadHash };
}

function fromQuery(query: URLSearchParams, headers: IncomingHttpHeaders): Claim | string {
  const credential = query.get('X-Amz-Credential');
  const signedHeaders = query.get('X-Amz-SignedHeaders');
  const signature = query.get('X-Amz-Signature');
  const longDate = query.get('X-Amz-Date');
  if (query.get('X-Amz-Algorithm') !== ALGORITHM_IDENTIFIER) return `X-Amz-Algorithm must be ${ALGORITHM_IDENTIFIER}`;
  if (!credential || !signedHeaders || !signature || !longDate) return 'a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature';
  const payloadHash = query.get('X-Amz-Content-Sha256') ?? header(headers, 'x-amz-content-sha256') ?? UNSIGNED_PAYLOAD;
  return { credential, longDate, signedHeaders: signedHeaders.split(';'), signature, payloadHash };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The path of `url` as sent: S3 signs it without re-encoding it. */
function rawPath(url: string): string {
  const end = url.indexOf('?');
  return end === -1 ? url : url.slice(0, end);
}

/** `20261205T120000Z` as epoch milliseconds. */
function parseLongDate(value: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}
