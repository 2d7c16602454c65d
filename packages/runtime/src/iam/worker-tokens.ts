import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';

/** The `typ` of a worker token's header: how the gateway tells it from a client's JWT. */
const WORKER_TOKEN_TYPE = 'lzy-worker+jwt';
const ISSUER = 'lzy-runtime';
const AUDIENCE = 'lzy-node';

/** What a worker token says: the one node of one lease it stands for, and until when. */
export interface WorkerClaims {
  readonly nodeId: string;
  readonly tenant: string;
  readonly pool: string;
  /** Whether the node joined a static pool. */
  readonly joined: boolean;
  /** ms since the epoch. */
  readonly expiresAt: number;
}

/**
 * The credentials of leased nodes' agents: a JWT (HS256) naming the node, its tenant and pool, and
 * an expiry, signed with a key this runtime process draws at start and never stores nor sends.
 * A token verifies only on the runtime that issued it, and only until its restart (when every
 * lease is gone anyway); whether its lease still lives is the gateway's to check, on every use.
 * Signing is synchronous, so that a lease hands its agent the token in the same step that names
 * its tenant, before any attempt reaches it.
 */
export class WorkerTokens {
  private readonly key: KeyObject = createSecretKey(randomBytes(32));

  constructor(
    /** How long one token lives; a lease renews its agent's token at half that. */
    readonly ttlMs: number,
  ) {}

  /** Whether `token` is shaped as a worker token (its header says so); says nothing of its validity. */
  static isWorkerToken(token: string): boolean {
    try {
      return decodeProtectedHeader(token).typ === WORKER_TOKEN_TYPE;
    } catch {
      return false;
    }
  }

  /** A new token for the node `node`, valid for `ttlMs` from `now`. */
  issue(node: Omit<WorkerClaims, 'expiresAt'>, now = Date.now()): { token: string; expiresAt: number } {
    const expiresAt = now + this.ttlMs;
    const header = { alg: 'HS256', typ: WORKER_TOKEN_TYPE };
    const payload = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: node.nodeId,
      tenant: node.tenant,
      pool: node.pool,
      joined: node.joined,
      iat: Math.floor(now / 1000),
      // Milliseconds are kept in their own claim: `exp` is whole seconds.
      exp: Math.ceil(expiresAt / 1000),
      exp_ms: expiresAt,
    };
    const signed = `${base64url(header)}.${base64url(payload)}`;
    return { token: `${signed}.${createHmac('sha256', this.key).update(signed).digest('base64url')}`, expiresAt };
  }

  /** The claims of a token this runtime issued and that has not expired; throws an error naming the problem, never the token. */
  async verify(token: string, now = Date.now()): Promise<WorkerClaims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: AUDIENCE, typ: WORKER_TOKEN_TYPE, algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new Error('worker token expired');
      if (error instanceof errors.JWSSignatureVerificationFailed) throw new Error('worker token refused: its signature does not verify (it was not issued by this runtime, or before its restart)');
      throw new Error('malformed worker token');
    }
    const { sub, tenant, pool, joined, exp_ms: expiresAt } = payload;
    if (typeof tenant !== 'string' || typeof pool !== 'string' || typeof joined !== 'boolean' || typeof expiresAt !== 'number') throw new Error('malformed worker token');
    if (expiresAt <= now) throw new Error(`worker token expired at ${new Date(expiresAt).toISOString()}`);
    return { nodeId: sub!, tenant, pool, joined, expiresAt };
  }
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
