import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FailedAuthLimiter } from '../iam/failed-auth-limiter.js';
import type { Subject } from '../iam/subject.js';
import { publishAuthFailed } from './events.js';
import type { RuntimeMetrics } from './metrics.js';

/** The path of the runtime's metrics under its port. */
export const METRICS_PATH = '/metrics';

/** What the endpoint needs to tell an admin from anyone else. */
export interface MetricsAccess {
  /** Serve anyone, without a token. */
  readonly public: boolean;
  /** The subject of a bearer token; throws for a token that does not verify. */
  verify(token: string): Promise<Subject>;
  /** Whether `subject` holds the admin role (its credential's roles and those bound to it). */
  isAdmin(subject: Subject): Promise<boolean>;
  readonly limiter: FailedAuthLimiter;
}

/**
 * Serves `GET /metrics` in Prometheus' text format to an admin's bearer token (or to anyone when
 * the metrics are public); false for any other path. A missing or bad token gets 401, a verified
 * non-admin 403; a failed token spends one of its address's failed-authentication tokens, as the
 * gateway's handshakes do, and refusals never quote the token.
 */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: RuntimeMetrics, access: MetricsAccess): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== METRICS_PATH) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET reads the metrics\n');
    return true;
  }
  if (!access.public) {
    const refusal = await refusalOf(req, access);
    if (refusal) {
      res.writeHead(refusal.status, { 'content-type': 'text/plain', ...(refusal.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) }).end(`${refusal.message}\n`);
      return true;
    }
  }
  const body = await metrics.exposition();
  res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/** Why the request may not read the metrics, if it may not. */
async function refusalOf(req: IncomingMessage, access: MetricsAccess): Promise<{ status: 401 | 403 | 429; message: string } | undefined> {
  const address = req.socket.remoteAddress;
  const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  try {
    access.limiter.check(address);
  } catch (error) {
    return { status: 429, message: (error as Error).message };
  }
  if (token === undefined) {
    publishAuthFailed({ reason: 'no bearer token for /metrics' });
    access.limiter.failed(address);
    return { status: 401, message: 'the metrics need an admin token: Authorization: Bearer TOKEN (or lzy server --metrics-public)' };
  }
  let subject: Subject;
  try {
    subject = await access.verify(token);
  } catch (error) {
    publishAuthFailed({ reason: (error as Error).message });
    access.limiter.failed(address);
    return { status: 401, message: `the token was refused: ${(error as Error).message}` };
  }
  if (!(await access.isAdmin(subject))) return { status: 403, message: `the metrics need the admin role; subject ${subject.id} of tenant ${subject.tenant} is not an admin` };
  return undefined;
}
