import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { Runtime } from '@lzy/runtime';
import { parseDuration } from '@lzy/sdk';
import { usageError } from '../cli-error.js';
import { readPoolsFile } from '../pools-file.js';

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
    .action((options: ServerOptions) => serve(options));
}

async function serve(options: ServerOptions): Promise<void> {
  const port = Number(options.port);
  const drainMs = Number(options.drainMs);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`bad --port ${options.port}`, 'a port is 0 to 65535');
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
  });
  await ensureAdminToken(runtime, dataDir);
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

/** The first start creates the admin's token in `DIR/admin.token` (mode 0600); later starts keep it. */
async function ensureAdminToken(runtime: Runtime, dataDir: string): Promise<void> {
  const file = join(dataDir, 'admin.token');
  if (existsSync(file)) {
    try {
      runtime.iam.verify(readFileSync(file, 'utf8').trim());
      return;
    } catch {
      note(`${file} holds no token this runtime knows; creating a new one`);
    }
  }
  const token = await runtime.iam.issueToken(ADMIN_TENANT, 'admin');
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${token}\n`, { mode: 0o600 });
  renameSync(temp, file);
  note(`created an admin token in ${file} (mode 0600); issue tenant tokens with \`lzy token create --tenant NAME\``);
}

function note(text: string): void {
  process.stderr.write(`lzy server: ${text}\n`);
}
