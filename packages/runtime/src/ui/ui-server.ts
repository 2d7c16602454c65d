import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeConnection } from '../client.js';
import type { FailedAuthLimiter } from '../iam/failed-auth-limiter.js';
import type { Subject } from '../iam/subject.js';
import { publishAuthFailed } from '../observe/events.js';
import { describeWholeRun } from '../describe-run.js';
import { RuntimeError } from '../protocol/errors.js';
import { UI_PAGE } from './ui-page.js';
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
  /** Resolves when `subject` may read its tenant's runs; else rejects with `FORBIDDEN`. */
  mayReadRuns(subject: Subject): Promise<void>;
  /** A connection as `subject`: it sees its tenant's runs only. */
  connectAs(subject: Subject): RuntimeConnection;
  readonly limiter: FailedAuthLimiter;
}

/**
 * Serves the dashboard under `/ui`; false for any other path. `GET /ui/` is the page; `POST
 * /ui/session` with `{ "token": ... }` signs in (a session cookie, HttpOnly, SameSite=Strict, for
 * 15 minutes) and `DELETE /ui/session` signs out; `GET /ui/api/runs` and `GET /ui/api/runs/ID` are
 * the session's tenant's runs, and one of them with its ops. Another tenant's run is `404`, as a
 * missing one is.
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
  if (path === '/' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'", 'x-frame-options': 'DENY' }).end(UI_PAGE);
    return;
  }
  if (path === '/session' && req.method === 'POST') return signIn(req, res, deps);
  if (path === '/session' && req.method === 'DELETE') {
    deps.sessions.close(sessionId(req));
    res.writeHead(204, { 'set-cookie': `${COOKIE}=; Path=${UI_PATH}; HttpOnly; SameSite=Strict; Max-Age=0` }).end();
    return;
  }
  if (req.method !== 'GET' || !path.startsWith('/api/')) throw new RuntimeError('NOT_FOUND', `no ${req.method} ${UI_PATH}${path}`);
  const subject = deps.sessions.subjectOf(sessionId(req));
  if (!subject) throw new RuntimeError('UNAUTHENTICATED', 'sign in first: no session, or it expired');
  await deps.mayReadRuns(subject);
  const connection = deps.connectAs(subject);
  try {
    if (path === '/api/runs') return json(res, 200, { tenant: subject.tenant, runs: (await connection.list()).runs });
    const run = /^\/api\/runs\/([^/]{1,256})$/.exec(path)?.[1];
    if (run === undefined) throw new RuntimeError('NOT_FOUND', `no ${UI_PATH}${path}`);
    return json(res, 200, await describeWholeRun(connection, decodeURIComponent(run)));
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
  res
    .writeHead(200, { 'content-type': 'application/json', 'set-cookie': `${COOKIE}=${id}; Path=${UI_PATH}; HttpOnly; SameSite=Strict; Max-Age=${UI_SESSION_TTL_MS / 1000}` })
    .end(JSON.stringify({ subject: subject.id, tenant: subject.tenant }));
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
