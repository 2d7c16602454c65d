import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';

/** A company's own issuer whose tokens `lzy server --trust-issuer` accepts. */
export interface TrustedIssuerConfig {
  /** The issuer identifier: its discovery document is at `URL/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** The `aud` its tokens must carry for this runtime. */
  readonly audience: string;
  /** The claim that names the tenant. Default `tenant`. */
  readonly tenantClaim?: string;
  /** The claim that carries the roles (an array, or a space-separated string). Default `roles`. */
  readonly rolesClaim?: string;
}

/** A refetch of the issuer's keys for an unknown `kid` happens at most this often. */
const REFETCH_COOLDOWN_MS = 1_000;
const FETCH_TIMEOUT_MS = 5_000;

/**
 * The verification keys of a trusted issuer: read from its discovery document and JWKS at first
 * use, cached, and fetched again when a token names a key the cache does not have (the issuer
 * rotated), at most once per second.
 */
export class TrustedIssuerKeys {
  private jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  private lastFetch = 0;
  private fetching: Promise<void> | undefined;

  constructor(readonly config: TrustedIssuerConfig) {}

  /** The key for a token's header; for jose's `jwtVerify`. */
  readonly key = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    if (!this.jwks) await this.refetch();
    try {
      return await this.jwks!(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - this.lastFetch < REFETCH_COOLDOWN_MS) throw error;
      await this.refetch();
      return this.jwks!(header, token);
    }
  };

  private refetch(): Promise<void> {
    this.fetching ??= this.fetchKeys().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchKeys(): Promise<void> {
    this.lastFetch = Date.now();
    const base = this.config.issuer.replace(/\/$/, '');
    const discovery = await getJson(`${base}/.well-known/openid-configuration`);
    if (discovery['issuer'] !== this.config.issuer) {
      throw new Error(`the discovery document of ${this.config.issuer} names another issuer, ${String(discovery['issuer'])}`);
    }
    const jwksUri = discovery['jwks_uri'];
    if (typeof jwksUri !== 'string') throw new Error(`the discovery document of ${this.config.issuer} has no jwks_uri`);
    this.jwks = createLocalJWKSet((await getJson(jwksUri)) as unknown as JSONWebKeySet);
  }
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (error) {
    throw new Error(`cannot reach ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const body: unknown = await response.json().catch(() => undefined);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error(`${url} did not answer a JSON object`);
  return body as Record<string, unknown>;
}
