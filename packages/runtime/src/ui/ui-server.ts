import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeConnection } from '../client.js';
import type { FailedAuthLimiter } from '../iam/failed-auth-limiter.js';
import type { Subject } from '../iam/subject.js';
import { publishAuthFailed } from '../observe/events.js';
import { describeWholeRun } from '../describe-run.js';
import { RuntimeError } from '../protocol/errors.js';
import type { LeaseBoard } from './ui-lease-board.js';
import { layoutLibScript } from './ui-layout-lib.js';
import { opLog } from './ui-op-logs.js';
import { listRuns } from './ui-runs.js';
import { UI_PAGE } from './ui-page.js';
import { streamRunEvents } from './ui-run-events.js';
import { UI_SCRIPT } from './ui-script.js';
import { findWhiteboards, whiteboardQueryOf } from './ui-whiteboards.js';
import { UI_SESSION_TTL_MS, type UiSessions } from './ui-sessions.js';

/** The path under the runtime's port where the dashboard is served. */
export const UI_PATH = '/ui';
const COOKIE = 'lzy_ui_session';
/** Largest sign-in request body. */
const MAX_BODY_BYTES = 16 * 1024;

/** What the dashboard needs of the runtime. */
export interface UiDeps {
  readonly sessions: UiSessions;
  /** The subject of a token; throws for one that does not verify. */
  verify(token: string): Promise<Subject>;
  /** Resolves when `subject` may read the runs of `tenant` (an admin: any); else rejects with `FORBIDDEN`. */
  mayReadRuns(subject: Subject, tenant: string): Promise<void>;
  /** Whether `subject` is an admin of the server, who sees every tenant. */
  isAdmin(subject: Subject): Promise<boolean>;
  /** A connection as `subject`: it sees its tenant's runs only. */
  connectAs(subject: Subject): RuntimeConnection;
  readonly leases: LeaseBoard;
  readonly limiter: FailedAuthLimiter;
}

/**
 * Serves the dashboard under `/ui`; false for any other path. `GET /ui/` is the page (its script
 * `/ui/app.js`, its graph layout `/ui/dagre.min.js`); `POST /ui/session` with `{ "token": ... }`
 * signs in (a session cookie, HttpOnly, SameSite=Strict, for 15 minutes), `GET /ui/session` tells
 * whose session it is and `DELETE /ui/session` signs out. The API answers the session's tenant
 * only (an admin's, any tenant's with `?tenant=NAME`, and every tenant's runs with
 * `/ui/api/runs?tenants=all`): `GET /ui/api/runs`, `/ui/api/runs/ID` (a run with its ops), `/ui/api/runs/ID/events` (its
 * events as server-sent events, until it ends) and `/ui/api/runs/ID/logs?op=OP` (an op's output).
 * Another tenant's run is `404`, as a missing one is.
 */
export async function serveUi(req: IncomingMessage, res: ServerResponse, deps: UiDeps): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path !== UI_PATH && !path.startsWith(`${UI_PATH}/`)) return false;
  try {
    await route(req, res, path.slice(UI_PATH.length) || '/', deps);
  } catch (error) {
    const status = error instanceof RuntimeError ? statusOf(error.code) : 500;
    json(res, status, { error: { code: error instanceof RuntimeError ? error.code : 'INTERNAL', message: (error as Error).message } });
  }
  return true;
}

async function route(req: IncomingMessage, res: ServerResponse, path: string, deps: UiDeps): Promise<void> {
  if (req.method === 'GET') {
    const asset = path === '/' ? { type: 'text/html', body: UI_PAGE } : path === '/app.js' ? { type: 'text/javascript', body: UI_SCRIPT } : path === '/dagre.min.js' ? { type: 'text/javascript', body: layoutLibScript() } : undefined;
    if (asset) {
      res.writeHead(200, { 'content-type': `${asset.type}; charset=utf-8`, 'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'", 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff' }).end(asset.body);
      return;
    }
  }
  if (path === '/session' && req.method === 'POST') return signIn(req, res, deps);
  if (path === '/session' && req.method === 'GET') {
    const subject = deps.sessions.subjectOf(sessionId(req));
    if (!subject) throw new RuntimeError('UNAUTHENTICATED', 'sign in first: no session, or it expired');
    return json(res, 200, { subject: subject.id, tenant: subject.tenant, admin: await deps.isAdmin(subject) });
  }
  if (path === '/session' && req.method === 'DELETE') {
    deps.sessions.close(sessionId(req));
    res.writeHead(204, { 'set-cookie': `${COOKIE}=; Path=${UI_PATH}; HttpOnly; SameSite=Strict; Max-Age=0` }).end();
    return;
  }
  if (req.method !== 'GET' || !path.startsWith('/api/')) throw new RuntimeError('NOT_FOUND', `no ${req.method} ${UI_PATH}${path}`);
  const session = sessionId(req);
  const subject = deps.sessions.subjectOf(session);
  if (!subject) throw new RuntimeError('UNAUTHENTICATED', 'sign in first: no session, or it expired');
  // `?tenant=NAME`: another tenant's, which only an admin may read; the session's own by default.
  const params = new URLSearchParams(req.url!.split('?')[1] ?? '');
  const tenant = params.get('tenant') || subject.tenant;
  await deps.mayReadRuns(subject, tenant);
  if (path === '/api/pools') {
    const everyTenant = !params.has('tenant') && (await deps.isAdmin(subject));
    return json(res, 200, { leases: deps.leases.list(everyTenant ? undefined : tenant) });
  }
  const connection = deps.connectAs(tenant === subject.tenant ? subject : { ...subject, tenant });
  try {
    if (path === '/api/runs' && params.get('tenants') === 'all') {
      // Every tenant's runs: the connection refuses all but an admin's (`FORBIDDEN`).
      return json(res, 200, { tenants: 'all', ...(await listRuns(connection, (other) => deps.connectAs({ ...subject, tenant: other }))) });
    }
    if (path === '/api/runs') return json(res, 200, { tenant, ...(await listRuns(connection)) });
    if (path === '/api/whiteboards') return json(res, 200, { tenant, whiteboards: await findWhiteboards(connection, whiteboardQueryOf(params)) });
    const [, encoded, part] = /^\/api\/runs\/([^/]{1,256})(\/events|\/logs)?$/.exec(path) ?? [];
    if (encoded === undefined) throw new RuntimeError('NOT_FOUND', `no ${UI_PATH}${path}`);
    const run = decodeURIComponent(encoded);
    if (part === undefined) return json(res, 200, await describeWholeRun(connection, run));
    // Another tenant's run, as a missing one: NOT_FOUND before anything is streamed or read.
    await connection.describe(run, 0, 0);
    if (part === '/events') return await streamRunEvents(req, res, connection, run, deps.sessions.lifeLeft(session));
    const op = params.get('op');
    if (!op) throw new RuntimeError('BAD_REQUEST', `name the op: ${UI_PATH}${path}?op=OP_ID`);
    return json(res, 200, { entries: await opLog(connection, run, op) });
  } finally {
    await connection.close();
  }
}

/** Checks the token in the body; on success, sets the session's cookie. */
async function signIn(req: IncomingMessage, res: ServerResponse, deps: UiDeps): Promise<void> {
  const address = req.socket.remoteAddress;
  try {
    deps.limiter.check(address);
  } catch (error) {
    throw new RuntimeError('RATE_LIMITED', (error as Error).message);
  }
  const token = await tokenOf(req);
  let subject: Subject;
  try {
    subject = await deps.verify(token);
  } catch (error) {
    deps.limiter.failed(address);
    publishAuthFailed({ reason: (error as Error).message });
    throw new RuntimeError('UNAUTHENTICATED', `the token was refused: ${(error as Error).message}`);
  }
  const { id } = deps.sessions.open(subject);
  const admin = await deps.isAdmin(subject);
  res
    .writeHead(200, { 'content-type': 'application/json', 'set-cookie': `${COOKIE}=${id}; Path=${UI_PATH}; HttpOnly; SameSite=Strict; Max-Age=${UI_SESSION_TTL_MS / 1000}` })
    .end(JSON.stringify({ subject: subject.id, tenant: subject.tenant, admin }));
}

/** The `token` of a JSON body `{ "token": "..." }`. */
async function tokenOf(req: IncomingMessage): Promise<string> {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new RuntimeError('BAD_REQUEST', 'sign in with a JSON body { "token": "..." }');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RuntimeError('BAD_REQUEST', `the sign-in body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RuntimeError('BAD_REQUEST', 'the sign-in body is not JSON');
  }
  const token = (body as { token?: unknown } | null)?.token;
  if (typeof token !== 'string' || token.length === 0 || token.length > 8192) throw new RuntimeError('BAD_REQUEST', 'the sign-in body needs a token: { "token": "..." }');
  return token;
}

function sessionId(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, value] = part.trim().split('=');
    if (name === COOKIE && value) return value;
  }
  return undefined;
}

function statusOf(code: string): number {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'BAD_REQUEST':
      return 400;
    case 'RATE_LIMITED':
      return 429;
    default:
      return 500;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
