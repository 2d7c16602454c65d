import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { importJWK, SignJWT } from 'jose';
import type { RootDatabase } from 'lmdb';
import type { default as ProviderClass, AccessToken, ClientCredentials, ErrorOut, JWKS, KoaContextWithOIDC } from 'oidc-provider';
import { MAX_JWT_TTL_S } from '../protocol/gateway.js';
import { lmdbAdapter } from './oidc-adapter.js';
import { OidcClients } from './oidc-clients.js';
import { publicJwk, SigningKeys, type PublicJwk } from './signing-keys.js';
import type { Role } from './subject.js';

/** The path under the runtime's port where the issuer is served. */
export const OIDC_PATH = '/oidc';
/** The audience of this runtime's access tokens: the resource they are for. */
export const RUNTIME_AUDIENCE = 'urn:lzy:runtime';
/** The one scope of this runtime's access tokens. */
const SCOPE = 'lzy';
/** Lifetime of an access token from the client_credentials grant. */
const DEFAULT_TOKEN_TTL_S = 15 * 60;
/** The `typ` of every access token this issuer signs (RFC 9068). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Claims of this issuer's access tokens beyond the registered ones: a client's carry its `client_id` too, a minted one its roles. */
export interface LzyClaims {
  readonly tenant: string;
  readonly roles?: readonly Role[];
  readonly client_id?: string;
}

/**
 * The OIDC issuer of `lzy server`, built on oidc-provider and served under `/oidc` of the
 * runtime's port: discovery, JWKS, and the token endpoint, where clients (service accounts) get
 * short-lived JWT access tokens with the client_credentials grant (HTTP basic authentication),
 * carrying their tenant (their roles are role bindings of their subject, read at each call). Clients and signing keys live in the runtime's lmdb state. A
 * Provider's key set is fixed, so a key rotation builds a new Provider on the same storage and
 * swaps it in; requests under way finish on the former one.
 */
export class OidcIssuer {
  private handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  private verificationKeys: PublicJwk[] = [];

  private constructor(
    /** The issuer identifier (`iss`), e.g. `http://127.0.0.1:8080/oidc`. */
    readonly issuer: string,
    readonly clients: OidcClients,
    private readonly keys: SigningKeys,
    private readonly build: (jwks: { keys: object[] }) => ProviderClass,
    private readonly log: (line: string) => void,
  ) {}

  /** Loads oidc-provider (only a runtime with an issuer does) and builds the issuer on `root`. */
  static async start(options: { root: RootDatabase; issuer: string; tokenTtlSeconds?: number; log: (line: string) => void }): Promise<OidcIssuer> {
    const ttl = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_S;
    const { default: Provider, errors } = await import('oidc-provider');
    const clients = new OidcClients(options.root);
    // A replaced key verifies as long as the longest-lived token it may have signed.
    const keys = new SigningKeys(options.root, MAX_JWT_TTL_S * 1000);
    const adapter = lmdbAdapter(options.root, clients);
    // Cookies are for interactive flows, which this issuer has none of; a fresh key per start will do.
    const cookieKeys = [randomBytes(32).toString('base64url')];
    const build = (jwks: { keys: object[] }) => {
      const provider = new Provider(options.issuer, {
        adapter,
        jwks: jwks as JWKS,
        cookies: { keys: cookieKeys },
        scopes: [SCOPE],
        ttl: { ClientCredentials: ttl },
        clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['client_credentials'], response_types: [] },
        extraClientMetadata: { properties: ['tenant'] },
        features: {
          devInteractions: { enabled: false },
          clientCredentials: { enabled: true },
          resourceIndicators: {
            enabled: true,
            defaultResource: () => RUNTIME_AUDIENCE,
            useGrantedResource: () => true,
            getResourceServerInfo: (_ctx: KoaContextWithOIDC, resource: string) => {
              if (resource !== RUNTIME_AUDIENCE) throw new errors.InvalidTarget(`this issuer's tokens are for ${RUNTIME_AUDIENCE} only`);
              return { audience: RUNTIME_AUDIENCE, scope: SCOPE, accessTokenFormat: 'jwt', accessTokenTTL: ttl };
            },
          },
        },
        extraTokenClaims: (_ctx: KoaContextWithOIDC, token: AccessToken | ClientCredentials) => {
          const metadata: Record<string, unknown> = token.client?.metadata() ?? {};
          return { tenant: metadata['tenant'] };
        },
        renderError: (ctx: KoaContextWithOIDC, out: ErrorOut) => {
          ctx.type = 'application/json';
          ctx.body = out;
        },
      });
      // Only the error's message: never a request's header or body, where credentials travel.
      provider.on('server_error', (_ctx: unknown, error: Error) => options.log(`issuer error: ${error.message}`));
      return provider;
    };
    const issuer = new OidcIssuer(options.issuer, clients, keys, build, options.log);
    await issuer.load();
    return issuer;
  }

  /** Serves a request whose path is under `/oidc`; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    if (url !== OIDC_PATH && !url.startsWith(`${OIDC_PATH}/`) && !url.startsWith(`${OIDC_PATH}?`)) return false;
    // The issuer is mounted under a prefix of a plain server: it sees the rest of the path, and
    // builds the URLs it advertises from the whole one.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
    req.url = url.slice(OIDC_PATH.length) || '/';
    this.handler(req, res);
    return true;
  }

  /** A new signing key: tokens signed with the former one stay valid until they expire. Returns the new key's id. */
  async rotateKeys(): Promise<string> {
    const kid = await this.keys.rotate();
    await this.load();
    this.log(`signing key rotated; the new key is ${kid}`);
    return kid;
  }

  /** The public keys that verify this issuer's tokens: the signing key and those it replaced that still may. */
  get publicKeys(): readonly PublicJwk[] {
    return this.verificationKeys;
  }

  /** One access token for `tenant` with `roles`, valid `ttlSeconds`, signed like the token endpoint's (`lzy token create`). */
  async mint(tenant: string, roles: readonly Role[], ttlSeconds: number): Promise<string> {
    if (!(Number.isInteger(ttlSeconds) && ttlSeconds > 0 && ttlSeconds <= MAX_JWT_TTL_S)) {
      throw new RangeError(`a token lives 1 s to ${MAX_JWT_TTL_S} s, not ${ttlSeconds}`);
    }
    const jwk = await this.keys.current();
    const jti = randomBytes(16).toString('base64url');
    const claims: LzyClaims = { tenant, roles: [...roles] };
    return new SignJWT({ ...claims, scope: SCOPE })
      .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(this.issuer)
      .setAudience(RUNTIME_AUDIENCE)
      .setSubject(`token:${createHash('sha256').update(jti).digest('hex').slice(0, 16)}`)
      .setJti(jti)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(await importJWK(jwk, jwk.alg));
  }

  private async load(): Promise<void> {
    const keys = await this.keys.all();
    const provider = this.build({ keys });
    this.handler = provider.callback();
    this.verificationKeys = keys.map(publicJwk);
  }
}
