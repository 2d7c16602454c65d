import { OIDC_PATH, RuntimeError } from '@lzy/runtime';

/** A service account's credentials for a shared runtime's issuer (`lzy clients create`). */
export interface ClientSecretOptions {
  /** The runtime's gateway, `ws://HOST:PORT`: its issuer is at `http://HOST:PORT/oidc`. */
  endpoint: string;
  clientId: string;
  clientSecret: string;
}

/** A fresh token is fetched once this share of the current one's lifetime has passed. */
const RENEW_AT = 2 / 3;
const FETCH_TIMEOUT_MS = 10_000;

/** The issuer identifier of the runtime at a ws endpoint. */
function issuerOf(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}${OIDC_PATH}`;
}

/**
 * Access tokens for a client of a runtime's issuer (the client_credentials grant, HTTP basic
 * authentication), kept fresh: a new one is fetched when two thirds of the current one's lifetime
 * have passed and handed to `onRenewed`; a failed fetch is tried again, with backoff, until the
 * current token expires. The secret goes to the token endpoint only, never into an error.
 */
export class ClientCredentials {
  private token: { value: string; expiresAt: number } | undefined;
  private tokenEndpoint: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Hears each renewed token. */
  onRenewed: (token: string) => void = () => {};

  constructor(private readonly options: ClientSecretOptions) {}

  /** The latest token; `fetch` must have resolved once. */
  current(): string {
    return this.token!.value;
  }

  /** Gets a first token and keeps it fresh from then on; rejects with a `RuntimeError` (`UNAUTHENTICATED`, `UNREACHABLE`). */
  async start(): Promise<void> {
    await this.fetch();
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(failures: number): void {
    if (this.closed) return;
    const { expiresAt } = this.token!;
    const lifetime = expiresAt - Date.now();
    // After a failure, again soon: before the current token expires if it can, and on after that.
    const delay = failures === 0 ? lifetime * RENEW_AT : Math.min(Math.max(lifetime / 2, 1_000), 250 * 2 ** failures, 5_000);
    this.timer = setTimeout(() => {
      this.fetch().then(
        (value) => {
          this.onRenewed(value);
          this.schedule(0);
        },
        () => this.schedule(failures + 1),
      );
    }, Math.max(0, delay));
    this.timer.unref();
  }

  private async fetch(): Promise<string> {
    const { endpoint, clientId, clientSecret } = this.options;
    const issuer = issuerOf(endpoint);
    this.tokenEndpoint ??= await discoverTokenEndpoint(issuer);
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    const body = await postForm(this.tokenEndpoint, basic);
    if (typeof body['access_token'] !== 'string' || typeof body['expires_in'] !== 'number') {
      const reason = typeof body['error'] === 'string' ? `${body['error']}${typeof body['error_description'] === 'string' ? ` (${body['error_description']})` : ''}` : 'no token in its answer';
      throw new RuntimeError('UNAUTHENTICATED', `the issuer at ${issuer} refused client ${clientId}: ${reason}`);
    }
    this.token = { value: body['access_token'], expiresAt: Date.now() + body['expires_in'] * 1000 };
    return this.token.value;
  }
}

async function discoverTokenEndpoint(issuer: string): Promise<string> {
  const discovery = await request(`${issuer}/.well-known/openid-configuration`, {});
  const endpoint = discovery['token_endpoint'];
  if (typeof endpoint !== 'string') throw new RuntimeError('UNREACHABLE', `${issuer} serves no OIDC discovery document with a token endpoint`);
  return endpoint;
}

function postForm(url: string, basic: string): Promise<Record<string, unknown>> {
  return request(url, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
}

async function request(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (error) {
    throw new RuntimeError('UNREACHABLE', `cannot reach ${url}: ${(error as Error).message}`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (typeof body !== 'object' || body === null) throw new RuntimeError('UNREACHABLE', `${url} answered ${response.status} without JSON`);
  return body as Record<string, unknown>;
}
