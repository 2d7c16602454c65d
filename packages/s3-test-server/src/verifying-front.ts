import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SigV4Verifier } from './sigv4-verifier.js';

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** A front that serves on 127.0.0.1, verifying each request's signature before it reaches the upstream S3 server. */
export interface VerifyingFront {
  readonly port: number;
  /** How many requests it refused, by S3 error code. */
  readonly refused: ReadonlyMap<string, number>;
  /** How many requests it passed on, by method and signature kind: `GET presigned`, `PUT signed`, … */
  readonly passed: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/**
 * Starts a front for the S3 server on 127.0.0.1:`upstreamPort`. A request whose signature
 * `verifier` refuses gets S3's XML error and never reaches upstream; an accepted one is passed on
 * untouched, its body streamed through a check of the payload hash it signed: a body that does not
 * match is cut off before its end, so that the request fails upstream too.
 */
export async function startVerifyingFront(verifier: SigV4Verifier, upstreamPort: number): Promise<VerifyingFront> {
  const refused = new Map<string, number>();
  const passed = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', (error as Error).message);
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verdict = await verifier.verify({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    if (!verdict.ok) {
      refused.set(verdict.code, (refused.get(verdict.code) ?? 0) + 1);
      req.resume();
      sendError(res, verdict.status, verdict.code, verdict.message);
      return;
    }
    const kind = `${req.method} ${/[?&]X-Amz-Signature=/.test(req.url ?? '') ? 'presigned' : 'signed'}`;
    passed.set(kind, (passed.get(kind) ?? 0) + 1);
    const upstream = httpRequest({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers });
    const answered = new Promise<void>((resolve, reject) => {
      upstream.once('response', (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        pipeline(answer, res).then(resolve, reject);
      });
      upstream.once('error', reject);
    });
    const body = HEX_SHA256.test(verdict.payloadHash) ? new PayloadCheck(verdict.payloadHash) : new Transform({ transform: (chunk, _, done) => done(null, chunk) });
    await pipeline(req, body, upstream).catch((error: Error) => {
      refused.set('XAmzContentSHA256Mismatch', (refused.get('XAmzContentSHA256Mismatch') ?? 0) + 1);
      upstream.destroy();
      if (!res.headersSent) sendError(res, 400, 'XAmzContentSHA256Mismatch', error.message);
    });
    await answered.catch(() => res.destroy());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    refused,
    passed,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Passes a body on, and fails at its end unless its sha256 is the one signed. */
class PayloadCheck extends Transform {
  private readonly hash = createHash('sha256');

  constructor(private readonly expected: string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const actual = this.hash.digest('hex');
    done(actual === this.expected ? null : new Error(`the body's sha256 ${actual} is not the signed ${this.expected}`));
  }
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const escape = (text: string) => text.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escape(message)}</Message></Error>`);
}
