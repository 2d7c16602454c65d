import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Iam } from './iam.js';
import { ACCESS_TOKEN_TYPE, RUNTIME_AUDIENCE, type OidcIssuer } from './oidc-issuer.js';
import { ROLES, tenantNameProblem, type Role, type Subject } from './subject.js';
import { TrustedIssuerKeys, type TrustedIssuerConfig } from './trusted-issuer.js';

/** A verified credential: who it is, and until when (undefined: an opaque token, valid until revoked). */
export interface VerifiedCredential {
  readonly subject: Subject;
  /** ms since the epoch. */
  readonly expiresAt: number | undefined;
}

/** Clock skew tolerated between this runtime and an external issuer; its own tokens are read on the clock that signed them, with none. */
export const CLOCK_TOLERANCE_S = 30;
const ASYMMETRIC = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

/**
 * Verifies every kind of client credential the runtime accepts, before any other work: IAM's
 * opaque tokens; JWT access tokens of its own issuer, against the issuer's local key set (so a
 * key rotation is seen at once) and with no clock skew (the same clock signed them: a token is
 * refused the second it expires); and JWTs of trusted external issuers, against their published
 * keys, with up to 30 s of skew. A refusal names the problem (expired, malformed, bad signature, wrong issuer or audience),
 * never the token.
 */
export class TokenVerifier {
  private readonly trusted: Map<string, TrustedIssuerKeys>;

  constructor(
    private readonly iam: Iam,
    /** The runtime's own issuer, once it has started (if it has one). */
    private readonly own: () => OidcIssuer | undefined,
    trusted: readonly TrustedIssuerConfig[] = [],
  ) {
    this.trusted = new Map(trusted.map((config) => [config.issuer, new TrustedIssuerKeys(config)]));
  }

  /** Whether `token` is a JWT (three base64url parts), rather than an opaque token. */
  static isJwt(token: string): boolean {
    return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);
  }

  async verify(token: string): Promise<VerifiedCredential> {
    if (!TokenVerifier.isJwt(token)) return { subject: this.iam.verify(token), expiresAt: undefined };
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw new Error('malformed token: not a JWT');
    }
    if (typeof issuer !== 'string') throw new Error('malformed token: it names no issuer (iss)');
    const own = this.own();
    if (own && issuer === own.issuer) return this.verifyOwn(token, own);
    const trusted = this.trusted.get(issuer);
    if (trusted) return this.verifyTrusted(token, trusted);
    throw new Error(`token of an untrusted issuer ${JSON.stringify(issuer.slice(0, 200))}`);
  }

  private async verifyOwn(token: string, own: OidcIssuer): Promise<VerifiedCredential> {
    const payload = await checked(() =>
      jwtVerify(token, createLocalJWKSet({ keys: [...own.publicKeys] }), {
        issuer: own.issuer,
        audience: RUNTIME_AUDIENCE,
        typ: ACCESS_TOKEN_TYPE,
        algorithms: ['ES256'],
        requiredClaims: ['exp', 'sub'],
      }),
    );
    const clientId = payload['client_id'];
    const id = typeof clientId === 'string' ? `client:${clientId}` : String(payload.sub);
    return credential(payload, id, 'tenant', 'roles');
  }

  private async verifyTrusted(token: string, trusted: TrustedIssuerKeys): Promise<VerifiedCredential> {
    const { issuer, audience, tenantClaim = 'tenant', rolesClaim = 'roles' } = trusted.config;
    const payload = await checked(() =>
      jwtVerify(token, trusted.key, { issuer, audience, algorithms: ASYMMETRIC, clockTolerance: CLOCK_TOLERANCE_S, requiredClaims: ['exp', 'sub'] }),
    );
    return credential(payload, `${issuer}#${String(payload.sub)}`, tenantClaim, rolesClaim);
  }
}

/** The subject of a verified payload: its tenant claim must name a tenant; roles outside the four are ignored. */
function credential(payload: JWTPayload, id: string, tenantClaim: string, rolesClaim: string): VerifiedCredential {
  const tenant = payload[tenantClaim];
  if (typeof tenant !== 'string' || tenantNameProblem(tenant)) throw new Error(`the token's ${tenantClaim} claim names no tenant`);
  const claimed = payload[rolesClaim];
  const list = typeof claimed === 'string' ? claimed.split(' ') : Array.isArray(claimed) ? claimed : [];
  const roles: Role[] = [...new Set(list.filter((role): role is Role => (ROLES as readonly unknown[]).includes(role)))];
  return { subject: { id, tenant, roles }, expiresAt: payload.exp! * 1000 };
}

/** Runs a jose verification; its refusal becomes an error that says what is wrong in a user's words. */
async function checked(verify: () => Promise<{ payload: JWTPayload }>): Promise<JWTPayload> {
  try {
    return (await verify()).payload;
  } catch (error) {
    throw new Error(explain(error));
  }
}

function explain(error: unknown): string {
  if (error instanceof errors.JWTExpired) return `token expired at ${new Date(Number(error.payload.exp) * 1000).toISOString()}`;
  if (error instanceof errors.JWTClaimValidationFailed) return `token refused: its ${error.claim} claim is wrong (${error.reason})`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token refused: its signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return 'token refused: it is signed by a key its issuer does not publish';
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'token refused: its signing algorithm is not accepted';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed token';
  // Fetching a trusted issuer's keys failed: say so (the message names URLs, never the token).
  return `token not verified: ${(error as Error).message}`;
}
