import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';

/** A private signing key as a JWK (ES256, with its `kid`). */
export interface PrivateJwk {
  readonly kty: string;
  readonly crv: string;
  readonly x: string;
  readonly y: string;
  readonly d: string;
  readonly kid: string;
  readonly alg: 'ES256';
  readonly use: 'sig';
}

/** A public verification key as a JWK: what the JWKS endpoint serves. */
export type PublicJwk = Omit<PrivateJwk, 'd'>;

interface StoredKey {
  readonly jwk: PrivateJwk;
  readonly createdAt: number;
  /** When a newer key took its place; it only verifies from then on. */
  readonly retiredAt?: number;
}

/**
 * The issuer's signing keys, in the runtime's lmdb state: the newest signs, the ones it replaced
 * verify the tokens they signed until those can no longer be valid (`keepRetiredMs` after they
 * were replaced), then they are dropped.
 */
export class SigningKeys {
  private readonly db: Database<StoredKey, string>;

  constructor(
    root: RootDatabase,
    private readonly keepRetiredMs: number,
  ) {
    this.db = root.openDB<StoredKey, string>({ name: 'oidc.keys' });
  }

  /** Every key that still verifies, the signing one first; the first call on an empty state makes one. */
  async all(): Promise<PrivateJwk[]> {
    if (this.stored().length === 0) await this.add(Date.now());
    return this.stored().map((key) => key.jwk);
  }

  /** The key that signs now. */
  async current(): Promise<PrivateJwk> {
    return (await this.all())[0]!;
  }

  /** A new signing key; the former one goes on verifying until its tokens have expired. Returns the new key's id. */
  async rotate(now = Date.now()): Promise<string> {
    await this.all();
    for (const key of this.stored()) {
      if (key.retiredAt === undefined) await this.db.put(key.jwk.kid, { ...key, retiredAt: now });
      else if (key.retiredAt + this.keepRetiredMs < now) await this.db.remove(key.jwk.kid);
    }
    return this.add(now);
  }

  private async add(now: number): Promise<string> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const exported = privateKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string; d: string };
    const kid = randomBytes(12).toString('base64url');
    const jwk: PrivateJwk = { kty: exported.kty, crv: exported.crv, x: exported.x, y: exported.y, d: exported.d, kid, alg: 'ES256', use: 'sig' };
    await this.db.put(kid, { jwk, createdAt: now });
    return kid;
  }

  /** Newest first. */
  private stored(): StoredKey[] {
    return [...this.db.getRange()].map(({ value }) => value).sort((a, b) => b.createdAt - a.createdAt);
  }
}

/** The public half of a signing key. */
export function publicJwk({ d: _private, ...rest }: PrivateJwk): PublicJwk {
  return rest;
}
