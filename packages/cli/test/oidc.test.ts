// Identity (OIDC): the server's issuer under /oidc, its clients and keys, JWTs as LZY_TOKEN, a
// client that renews its token on an open connection, a trusted external issuer (a second,
// independently configured oidc-provider started here), refusals of bad tokens, the limit on
// failed authentications, and no secret in anything the server printed.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { decodeJwt, decodeProtectedHeader, SignJWT, exportJWK } from 'jose';
import Provider from 'oidc-provider';
import type { PeerState } from '@lzy/actors';
import { RemoteConnection } from '@lzy/sdk';
import { lzy, tempDir, waitUntil, type Teardown } from './harness.js';

/** Everything the server printed, stdout and stderr, for the scan at the end. */
const output: string[] = [];
/** Every secret the tests saw: none may appear in `output`. */
const secrets = new Set<string>();

const external = await startExternalIssuer(t);
const server = await startServer(t, [
  '--token-ttl', '3s',
  '--trust-issuer', external.issuer,
  '--audience', 'urn:acme:lzy',
  '--tenant-claim', 'org',
  '--roles-claim', 'groups',
]);
secrets.add(server.adminToken);
const admin = ['--endpoint', server.url, '--token', server.adminToken];
const discoveryUrl = `http://127.0.0.1:${server.port}/oidc/.well-known/openid-configuration`;

/** `lzy status` as the holder of `token`: exit code 0 when the server let it in. */
const statusWith = (token: string) => lzy(['status', '--endpoint', server.url], { LZY_TOKEN: token, XDG_CONFIG_HOME: tempDir(t) });

async function createClient(tenant: string, role = 'member'): Promise<{ client_id: string; client_secret: string }> {
  const created = await lzy(['clients', 'create', '--tenant', tenant, '--role', role, '--json', ...admin]);
  if (created.code !== 0) throw new Error(`lzy clients create failed: ${created.stderr}`);
  const client = JSON.parse(created.lines.at(-1)!) as { client_id: string; client_secret: string };
  secrets.add(client.client_secret);
  return client;
}

t.test("the issuer's discovery is under /oidc and its token endpoint gives a client a JWT with HTTP basic authentication", async (t) => {
  const discovery = (await (await fetch(discoveryUrl)).json()) as { issuer: string; token_endpoint: string; jwks_uri: string };
  t.equal(discovery.issuer, `http://127.0.0.1:${server.port}/oidc`);
  t.equal(discovery.token_endpoint, `http://127.0.0.1:${server.port}/oidc/token`, 'the URLs it lists keep the /oidc prefix');
  const { client_id, client_secret } = await createClient('team');
  const answer = await tokenFor(discovery.token_endpoint, client_id, client_secret);
  t.equal(answer.status, 200);
  const token = answer.body['access_token'] as string;
  secrets.add(token);
  t.match(decodeJwt(token), { iss: discovery.issuer, tenant: 'team', client_id });
  // The client's tokens live 3 s here: the connection is opened in this process, not by a CLI that takes longer to start.
  const connection = await RemoteConnection.open({ endpoint: server.url, token });
  t.same(await connection.whoami(), { id: `client:${client_id}`, tenant: 'team', roles: ['member'] }, 'the runtime takes it, with the role bound to the client');
  await connection.close();
  const wrong = await tokenFor(discovery.token_endpoint, client_id, 'not-the-secret');
  t.equal(wrong.status, 401, 'a wrong secret gets no token');

  const listed = await lzy(['clients', 'ls', '--json', ...admin]);
  t.match(JSON.parse(listed.lines.at(-1)!), [{ client_id, tenant: 'team' }]);
  const bound = await lzy(['roles', 'ls', '--tenant', 'team', '--json', ...admin]);
  t.match(bound.stdout, `client:${client_id}`, 'its role is a binding that `lzy roles` sees');
  t.notOk(listed.stdout.includes(client_secret), 'ls never shows a secret');
  t.equal((await lzy(['clients', 'rm', client_id, ...admin])).code, 0);
  t.equal((await tokenFor(discovery.token_endpoint, client_id, client_secret)).status, 401, 'a removed client gets no token');
  t.notMatch((await lzy(['roles', 'ls', '--tenant', 'team', '--json', ...admin])).stdout, `client:${client_id}`, 'nor its binding');
});

t.test('lzy token create --ttl 20s prints a JWT that LZY_TOKEN accepts until it expires, and not after', async (t) => {
  const created = await lzy(['token', 'create', '--tenant', 'team', '--ttl', '20s', ...admin]);
  t.equal(created.code, 0, created.stderr);
  const token = created.lines.at(-1)!;
  secrets.add(token);
  t.equal(token.split('.').length, 3, 'three base64url parts');
  const { issuer } = (await (await fetch(discoveryUrl)).json()) as { issuer: string };
  const claims = decodeJwt(token);
  t.equal(claims.iss, issuer);
  // Long enough for a CLI start on a loaded machine.
  t.equal((await statusWith(token)).code, 0, 'accepted while it lives');
  await waitUntil(() => Date.now() > claims.exp! * 1000, 'the token to expire');
  const after = await statusWith(token);
  t.equal(after.code, 1);
  t.match(after.stderr, /the runtime at .* refused the token: token expired at /, 'refused, saying it expired');
  t.equal((await lzy(['token', 'create', '--tenant', 'team', ...admin])).lines.at(-1)!.startsWith('lzy_'), true, 'without --ttl: an opaque token, as before');
});

t.test('a client with credentials renews its token and keeps its connection across the expiry; one without is closed', async (t) => {
  const { client_id, client_secret } = await createClient('team');
  const states: PeerState[] = [];
  const opened = Date.now();
  const renewing = await RemoteConnection.open({ endpoint: server.url, clientId: client_id, clientSecret: client_secret, onState: (s) => states.push(s) });
  t.teardown(() => renewing.close());
  t.match(await renewing.whoami(), { id: `client:${client_id}`, tenant: 'team', roles: ['member'] });

  const discovery = (await (await fetch(discoveryUrl)).json()) as { token_endpoint: string };
  const fixed = (await tokenFor(discovery.token_endpoint, client_id, client_secret)).body['access_token'] as string;
  secrets.add(fixed);
  const fixedStates: PeerState[] = [];
  const once = await RemoteConnection.open({ endpoint: server.url, token: fixed, onState: (s) => fixedStates.push(s) });
  t.teardown(() => once.close());

  await waitUntil(() => fixedStates.includes('closed'), 'the connection with a token it cannot renew to be closed', 15_000);
  t.ok(Date.now() - opened >= 2_000, 'it was closed when its token expired');
  await waitUntil(() => Date.now() > opened + 4_000, "the renewing client's first token to have expired");
  t.same((await renewing.list()).runs, [], 'the renewing client is still served');
  t.same(states, ['open'], 'on the connection it opened first: it never dropped');
});

t.test('a key rotation is picked up: tokens of the former key stay valid, new ones are signed with the new key', async (t) => {
  const before = (await lzy(['token', 'create', '--tenant', 'team', '--ttl', '10m', ...admin])).lines.at(-1)!;
  const rotated = await lzy(['keys', 'rotate', ...admin]);
  t.equal(rotated.code, 0, rotated.stderr);
  const kid = rotated.lines.at(-1)!.replace('new signing key ', '');
  const after = (await lzy(['token', 'create', '--tenant', 'team', '--ttl', '10m', ...admin])).lines.at(-1)!;
  secrets.add(before).add(after);
  t.not(decodeProtectedHeader(before).kid, kid);
  t.equal(decodeProtectedHeader(after).kid, kid, 'signed with the new key');
  t.equal((await statusWith(before)).code, 0, 'the former key still verifies');
  t.equal((await statusWith(after)).code, 0);
  const { jwks_uri } = (await (await fetch(discoveryUrl)).json()) as { jwks_uri: string };
  const { keys } = (await (await fetch(jwks_uri)).json()) as { keys: Array<{ kid: string; d?: string }> };
  t.same(keys.map((key) => key.kid).sort(), [kid, decodeProtectedHeader(before).kid].sort(), 'the JWKS publishes both');
  t.notOk(keys.some((key) => key.d !== undefined), 'and no private part');
});

t.test("a trusted issuer's token is accepted with its tenant and roles claims; an untrusted issuer's, and bad tokens, are refused", async (t) => {
  const good = await external.token({ org: 'acme', groups: ['viewer', 'janitor'] });
  secrets.add(good);
  const connection = await RemoteConnection.open({ endpoint: server.url, token: good });
  t.teardown(() => connection.close());
  t.same(await connection.whoami(), { id: `${external.issuer}#${external.clientId}`, tenant: 'acme', roles: ['viewer'] }, 'roles outside the four are ignored');

  const refusals: Array<[string, string, RegExp]> = [
    ['an untrusted issuer', await selfSigned({ iss: 'http://evil.example/oidc', aud: 'urn:acme:lzy', org: 'acme' }), /token of an untrusted issuer "http:\/\/evil\.example\/oidc"/],
    ['a key the trusted issuer does not publish', await selfSigned({ iss: external.issuer, aud: 'urn:acme:lzy', org: 'acme' }), /signed by a key its issuer does not publish/],
    ['an edited payload', edited(good), /signature does not verify/],
    ['a malformed token', 'eyJ.eyJ.x', /malformed token/],
    ['another audience', await external.token({ org: 'acme' }, 'urn:someone-else'), /its aud claim is wrong/],
  ];
  for (const [what, token, reason] of refusals) {
    secrets.add(token);
    const refused = await statusWith(token);
    t.equal(refused.code, 1, what);
    t.match(refused.stderr, reason, what);
    t.notOk(refused.stderr.includes(token), `${what}: the error does not quote the token`);
  }
});

t.test('lzy login keeps a client’s credentials (mode 0600) and commands use them without a token', async (t) => {
  const { client_id, client_secret } = await createClient('team');
  const config = tempDir(t);
  const env = { XDG_CONFIG_HOME: config, LZY_ENDPOINT: '', LZY_TOKEN: '' };
  const login = await lzy(['login', '--client-id', client_id, '--client-secret', client_secret, '--endpoint', server.url], env);
  t.equal(login.code, 0, login.stderr);
  t.match(login.stdout, `as ${client_id} (tenant team, member)`);
  t.notOk(login.stdout.includes(client_secret), 'the secret is not printed');
  const file = join(config, 'lzy', 'credentials.json');
  t.equal(statSync(file).mode & 0o777, 0o600);
  const status = await lzy(['status'], env);
  t.equal(status.code, 0, status.stderr);
  const asMember = await lzy(['clients', 'ls'], env);
  t.match(asMember.stderr, /issuer.manage needs the admin role; subject client:\S+ has member in tenant team/, 'it went to the server as the client');
  const wrong = await lzy(['login', '--client-id', client_id, '--client-secret', 'wrong', '--endpoint', server.url], { ...env, XDG_CONFIG_HOME: tempDir(t) });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, `refused client ${client_id}: invalid_client`);
});

// Last: it spends this address's failed authentications.
t.test('an address that keeps failing to authenticate is refused before its credential is looked at', async (t) => {
  const attempt = (token: string) =>
    RemoteConnection.open({ endpoint: server.url, token }).then(
      async (connection) => (await connection.close(), 'let in'),
      (error: Error) => error.message,
    );
  let refusal: string | undefined;
  for (let i = 0; i < 20 && !refusal; i++) {
    const answer = await attempt('lzy_not-a-token');
    if (/too many failed/.test(answer)) refusal = answer;
  }
  t.match(refusal, /too many failed authentications from this address; try again in \d+ s/);
  t.match(await attempt(server.adminToken), /too many failed authentications/, 'a good token is not even looked at meanwhile');
});

t.test('no secret appears in anything the server printed', async (t) => {
  const printed = output.join('\n');
  t.ok(printed.includes('lzy server listening on'), 'the output was captured');
  t.ok(secrets.size >= 10, `${secrets.size} secrets looked for`);
  for (const secret of secrets) t.notOk(printed.includes(secret), `a secret of ${secret.length} characters is not in the output`);
});

/** Starts `lzy server` with its stdout and stderr captured into `output`. */
async function startServer(t: Teardown, args: string[]) {
  const dataDir = tempDir(t);
  const pools = join(tempDir(t), 'pools.json');
  writeFileSync(pools, JSON.stringify([{ name: 'default', cpu: 1, memoryMb: 1024, slots: 1, maxNodes: 1, idleTimeoutMs: 60_000 }]));
  const bin = fileURLToPath(new URL('../../bin/lzy.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'server', '--port', '0', '--data-dir', dataDir, '--pools', pools, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => output.push(line));
  const line = await waitUntil(() => output.find((l) => l.startsWith('lzy server listening on ')), 'lzy server to listen', 30_000);
  const url = line.slice('lzy server listening on '.length);
  return { url, port: Number(new URL(url).port), adminToken: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim() };
}

/** The token endpoint's answer to a client_credentials request with HTTP basic client authentication. */
async function tokenFor(endpoint: string, clientId: string, secret: string) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A JWT signed with a key of no issuer's. */
async function selfSigned(claims: Record<string, unknown>): Promise<string> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'stray' }).setSubject('someone').setIssuedAt().setExpirationTime('5m').sign(privateKey);
}

/** `token` with its payload changed (the tenant), its signature left as it was. */
function edited(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  return [header, Buffer.from(JSON.stringify({ ...claims, org: 'other' })).toString('base64url'), signature].join('.');
}

/**
 * A company's own issuer: a second oidc-provider, configured on its own (RS256 keys, its tenant
 * in `org`, roles in `groups`, its own audience), with one client of the client_credentials grant.
 */
async function startExternalIssuer(t: Teardown) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'company-key', alg: 'RS256', use: 'sig' };
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => http.close(() => resolve())));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  let claims: Record<string, unknown> = {};
  const clientId = 'company-app';
  const clientSecret = 'company-secret-0123456789';
  secrets.add(clientSecret);
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] as never },
    clients: [{ client_id: clientId, client_secret: clientSecret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }],
    clientDefaults: { id_token_signed_response_alg: 'RS256' },
    scopes: ['api'],
    ttl: { ClientCredentials: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:acme:lzy',
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({ audience: resource, scope: 'api', accessTokenFormat: 'jwt', accessTokenTTL: 300 }),
      },
    },
    extraTokenClaims: () => claims,
  });
  http.on('request', provider.callback());
  return {
    issuer,
    clientId,
    /** A token of this issuer carrying `extra` claims, for `resource` (default the runtime's audience). */
    async token(extra: Record<string, unknown>, resource = 'urn:acme:lzy'): Promise<string> {
      claims = extra;
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource }).toString(),
      });
      const body = (await response.json()) as Record<string, unknown>;
      if (typeof body['access_token'] !== 'string') throw new Error(`the external issuer gave no token: ${JSON.stringify(body)}`);
      return body['access_token'];
    },
  };
}
