import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { S3Key } from './keys.js';
import { SigV4Verifier } from './sigv4-verifier.js';
import { startVerifyingFront } from './verifying-front.js';

/** A running S3-protocol server: s3rver in its own process, behind a front that verifies signatures. */
export interface S3TestServer {
  /** `http://127.0.0.1:PORT`: use it with `forcePathStyle: true`. */
  readonly endpoint: string;
  readonly region: string;
  /** The key pairs it accepts; the first is the server's own. */
  readonly keys: readonly S3Key[];
  /** How many requests the front refused, by S3 error code (`SignatureDoesNotMatch`, `AccessDenied`, …). */
  readonly refused: ReadonlyMap<string, number>;
  /** How many requests it passed on to s3rver, by method and signature kind: `GET presigned`, `PUT signed`, … */
  readonly passed: ReadonlyMap<string, number>;
  /** Stops both processes' servers and removes the stored objects. */
  close(): Promise<void>;
}

export interface S3TestServerOptions {
  /** Key pairs to accept (default: one random pair). */
  readonly keys?: readonly S3Key[];
  /** The region requests must be signed for (default `us-east-1`). */
  readonly region?: string;
}

const MAIN = fileURLToPath(new URL('./s3rver-main.js', import.meta.url));

/** A new random key pair. */
export function randomKey(): S3Key {
  return { accessKeyId: `LZYTEST${randomBytes(6).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') };
}

/**
 * Starts s3rver (with `--openssl-legacy-provider`, without which its truncated listings fail on
 * OpenSSL 3) on 127.0.0.1 in a temp directory, and the verifying front before it.
 */
export async function startS3TestServer(options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const keys = options.keys ?? [randomKey()];
  const region = options.region ?? 'us-east-1';
  const directory = mkdtempSync(join(tmpdir(), 'lzy-s3-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', MAIN, directory], {
    env: { ...process.env, LZY_S3_KEYS: JSON.stringify(keys) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const upstreamPort = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before it listened`)));
  });
  const front = await startVerifyingFront(new SigV4Verifier(keys, region), upstreamPort);
  return {
    endpoint: `http://127.0.0.1:${front.port}`,
    region,
    keys,
    refused: front.refused,
    passed: front.passed,
    close: async () => {
      await front.close();
      child.stdin!.end();
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
