import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { Runtime, type S3StorageConfig, type StorageOptions } from '@lzy/runtime';
import { parseDuration } from '@lzy/sdk';
import { parseByteSize } from '../byte-size.js';
import { usageError } from '../cli-error.js';
import { parsePort } from '../port-option.js';
import { readPoolsFile } from '../pools-file.js';
import { LOG_LEVELS, serverLogger } from '../server-log.js';
import { ensureTokenFile } from '../token-file.js';

interface ServerOptions {
  host: string;
  port: string;
  dataDir: string;
  pools?: string;
  kubeconfig?: string;
  drainMs: string;
  issuer?: string;
  tokenTtl: string;
  workerTokenTtl: string;
  trustIssuer?: string;
  audience?: string;
  tenantClaim: string;
  rolesClaim: string;
  storage: string;
  s3Endpoint?: string;
  s3Bucket?: string;
  s3Prefix?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  tempQuota: string;
  tempTtl: string;
  metricsPublic?: boolean;
  logLevel: string;
}

/** The admin's tenant, whose token `lzy server` creates on its first start. */
const ADMIN_TENANT = 'admin';

/** `lzy server`: the runtime as a standalone process that clients and node-agents connect to. */
export function serverCommand(): Command {
  return new Command('server')
    .description('run a shared runtime that clients connect to with --endpoint and a token')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: a free one)', '8080')
    .addOption(new Option('--data-dir <dir>', 'where the runtime keeps its state and blobs').env('LZY_HOME').default('./.lzy'))
    .option('--pools <file>', 'node pools, a JSON array: [{ "name": "default", "slots": 4, "maxNodes": 2 }]')
    .option('--kubeconfig <file>', 'the cluster of the pools of "kind": "kubernetes" (default: KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--drain-ms <ms>', 'on SIGTERM, how long running ops may go on before they are handed back', '10000')
    .option('--issuer <url>', "the identifier of the server's OIDC issuer, when clients reach it by another name (default http://HOST:PORT/oidc)")
    .option('--token-ttl <duration>', "how long the access tokens of the issuer's clients live", '15m')
    .option('--worker-token-ttl <duration>', "how long a leased node's worker token lives (its lease renews it at half that)", '10m')
    .option('--trust-issuer <url>', "also accept the JWTs of this issuer (keys from its discovery document and JWKS); needs --audience")
    .option('--audience <aud>', 'with --trust-issuer: the aud its tokens must carry')
    .option('--tenant-claim <claim>', "with --trust-issuer: the claim that names the tenant", 'tenant')
    .option('--roles-claim <claim>', 'with --trust-issuer: the claim that carries the roles (owner, member, viewer, admin; others are ignored)', 'roles')
    .addOption(new Option('--storage <kind>', "where runs' values are stored: files under the data dir, or an S3 bucket").choices(['file', 's3']).default('file'))
    .option('--s3-endpoint <url>', 'with --storage s3: the S3-compatible endpoint (default: AWS S3 of the region)')
    .option('--s3-bucket <bucket>', 'with --storage s3: the bucket (it must exist); credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the AWS config')
    .option('--s3-prefix <prefix>', "with --storage s3: keys start with PREFIX/ (a run's values are under PREFIX/TENANT/WORKFLOW_ID/)")
    .addOption(new Option('--s3-region <region>', 'with --storage s3: the region').env('AWS_REGION'))
    .option('--s3-path-style', 'with --storage s3: address the bucket in the path (MinIO and most servers other than AWS need it)')
    .option('--temp-ttl <duration>', "with --storage s3: how long a run's temporary storage outlives the run, e.g. 24h", '24h')
    .option('--temp-quota <size>', "the size limit of each run's temporary storage (runs that name no bucket of their own), e.g. 500MiB", '10GiB')
    .option('--metrics-public', 'serve /metrics to anyone, without a token (default: admin tokens only)')
    .option('--log-level <level>', `what the log (JSON lines on stderr, readable on a terminal) holds: ${LOG_LEVELS.join(', ')}; debug adds a line per op and attempt`, 'info')
    .action((options: ServerOptions) => serve(options));
}

async function serve(options: ServerOptions): Promise<void> {
  const logger = serverLogger(options.logLevel);
  const note = (text: string) => logger.info(text);
  const port = parsePort(options.port);
  const drainMs = Number(options.drainMs);
  if (!Number.isInteger(drainMs) || drainMs < 0) throw usageError(`bad --drain-ms ${options.drainMs}`, 'milliseconds, 0 or more');
  const dataDir = resolve(options.dataDir);
  const pools = options.pools === undefined ? undefined : readPoolsFile(options.pools);
  if ((options.trustIssuer === undefined) !== (options.audience === undefined)) {
    throw usageError('--trust-issuer and --audience go together', 'e.g. --trust-issuer https://id.example.com --audience lzy');
  }
  const tokenTtlSeconds = Math.ceil(parseDuration(options.tokenTtl, '--token-ttl') / 1000);
  if (!(tokenTtlSeconds >= 1)) throw usageError(`bad --token-ttl ${options.tokenTtl}`, 'e.g. 15m');
  const workerTokenTtlMs = parseDuration(options.workerTokenTtl, '--worker-token-ttl');
  if (!(workerTokenTtlMs >= 1_000)) throw usageError(`bad --worker-token-ttl ${options.workerTokenTtl}`, 'at least 1s, e.g. 10m');
  const trust = options.trustIssuer === undefined ? [] : [
    { issuer: options.trustIssuer, audience: options.audience!, tenantClaim: options.tenantClaim, rolesClaim: options.rolesClaim },
  ];
  const runtime = await Runtime.start({
    dataDir,
    host: options.host,
    port,
    workerTokenTtlMs,
    ...(pools ? { pools } : {}),
    ...(options.kubeconfig === undefined ? {} : { kubeconfig: resolve(options.kubeconfig) }),
    identity: { issuer: options.issuer ?? true, tokenTtlSeconds, trust },
    storage: storageOf(options),
    metrics: { public: options.metricsPublic === true },
    dashboard: true,
    logger,
  });
  await ensureAdminToken(runtime, dataDir, note);
  process.stdout.write(`lzy server listening on ${runtime.url}\n`);
  if (runtime.issuer) note(`OIDC issuer ${runtime.issuer.issuer}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      note(`${signal} again: stopping now; running ops run again after the next start`);
      await runtime.close();
      process.exit(0);
    }
    stopping = true;
    note(`${signal}: no new work is taken; running ops have up to ${drainMs} ms to finish`);
    const idle = await runtime.drain(drainMs);
    if (!idle) note('ops still running are handed back: they run again after the next start');
    await runtime.close();
    note(`stopped; the state is in ${dataDir}`);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** The S3 flags that only `--storage s3` takes (`--s3-region` also comes from `AWS_REGION`, so it is not among them). */
const S3_FLAGS = { s3Endpoint: '--s3-endpoint', s3Bucket: '--s3-bucket', s3Prefix: '--s3-prefix', s3PathStyle: '--s3-path-style' } as const;

/** The storage the flags name; a usage error for S3 flags without `--storage s3`, or S3 without a bucket. */
function storageOf(options: ServerOptions): StorageOptions {
  const s3Flag = Object.entries(S3_FLAGS).find(([option]) => options[option as keyof typeof S3_FLAGS] !== undefined)?.[1];
  const tempQuotaBytes = parseByteSize(options.tempQuota);
  if (tempQuotaBytes === undefined) throw usageError(`bad --temp-quota ${options.tempQuota}`, 'a size such as 10GiB, 500MB or 1048576');
  const tempTtlMs = parseDuration(options.tempTtl, '--temp-ttl');
  if (options.storage !== 's3') {
    if (s3Flag !== undefined) throw usageError(`${s3Flag} needs --storage s3`, 'add --storage s3, or leave the S3 flags out to store values under the data dir');
    return { tempQuotaBytes };
  }
  if (options.s3Bucket === undefined) throw usageError('--storage s3 needs --s3-bucket', 'name an existing bucket, e.g. --s3-bucket lzy-values');
  const s3: S3StorageConfig = { bucket: options.s3Bucket, pathStyle: options.s3PathStyle ?? false };
  if (options.s3Endpoint !== undefined) s3.endpoint = options.s3Endpoint;
  if (options.s3Prefix !== undefined) s3.prefix = options.s3Prefix;
  if (options.s3Region !== undefined) s3.region = options.s3Region;
  return { s3, tempQuotaBytes, tempTtlMs };
}

/** The first start creates the admin's token in `DIR/admin.token` (mode 0600); later starts keep it. */
async function ensureAdminToken(runtime: Runtime, dataDir: string, note: (text: string) => void): Promise<void> {
  const file = join(dataDir, 'admin.token');
  const { created } = await ensureTokenFile(runtime, file, ADMIN_TENANT, 'admin', note);
  if (created) note(`created an admin token in ${file} (mode 0600); issue tenant tokens with \`lzy token create --tenant NAME\``);
}

