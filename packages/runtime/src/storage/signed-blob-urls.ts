import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Where the runtime's HTTP server serves the file store's blobs. */
export const BLOBS_PATH = '/blobs/';
/** The blob a PUT names when the file store is to name it by hashing it as it arrives. */
export const NEW_BLOB = 'new';
/** How long a signed URL may be used from (a transfer that began may take longer). */
const SIGNED_TTL_MS = 15 * 60_000;

/** What a signed URL lets its holder do: GET a tenant's blob, or PUT exactly `size` bytes of it (of a new one: `hash` is NEW_BLOB). */
export interface SignedBlobAccess {
  readonly method: 'GET' | 'PUT';
  readonly tenant: string;
  readonly hash: string;
  /** The exact byte count a PUT must send. */
  readonly size?: number;
}

/**
 * The file store's presigned URLs: paths on the runtime's own HTTP server (a node resolves them
 * against the address it reached the runtime at), signed with HMAC-SHA256 under a key that this
 * process draws at start and keeps only in memory, so no URL outlives the runtime that gave it.
 * The signature covers the method, the tenant, the blob, a PUT's size and the expiry.
 */
export class SignedBlobUrls {
  private readonly key = randomBytes(32);

  /** A path with query that grants `access` for the next 15 minutes. */
  sign(access: SignedBlobAccess, now = Date.now()): string {
    const expires = String(now + SIGNED_TTL_MS);
    const query = new URLSearchParams({ expires });
    if (access.size !== undefined) query.set('size', String(access.size));
    query.set('signature', this.signature(access, expires));
    return `${BLOBS_PATH}${encodeURIComponent(access.tenant)}/${access.hash}?${query}`;
  }

  /** The access a request's method and URL (path and query) carry, or a reason to refuse it. */
  verify(method: string, url: string, now = Date.now()): SignedBlobAccess | { refused: string } {
    const parsed = new URL(url, 'http://runtime');
    const parts = parsed.pathname.slice(BLOBS_PATH.length).split('/');
    if (!parsed.pathname.startsWith(BLOBS_PATH) || parts.length !== 2) return { refused: 'no blob is at this path' };
    if (method !== 'GET' && method !== 'PUT') return { refused: `${method} is not allowed on a blob` };
    const expires = parsed.searchParams.get('expires');
    const signature = parsed.searchParams.get('signature');
    if (expires === null || signature === null) return { refused: 'the URL is not signed' };
    const sizeParam = parsed.searchParams.get('size');
    let tenant: string;
    try {
      tenant = decodeURIComponent(parts[0]!);
    } catch {
      return { refused: 'the URL names no tenant' };
    }
    const access: SignedBlobAccess = { method, tenant, hash: parts[1]!, ...(sizeParam === null ? {} : { size: Number(sizeParam) }) };
    const expected = Buffer.from(this.signature(access, expires));
    const given = Buffer.from(signature);
    // Checked before the expiry, so a forged URL is told only that its signature is wrong.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: 'the signature does not match' };
    if (!(Number(expires) > now)) return { refused: 'the URL has expired' };
    return access;
  }

  private signature({ method, tenant, hash, size }: SignedBlobAccess, expires: string): string {
    return createHmac('sha256', this.key)
      .update([method, tenant, hash, size === undefined ? '' : String(size), expires].join('\n'))
      .digest('base64url');
  }
}
