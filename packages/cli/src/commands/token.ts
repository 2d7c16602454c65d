import { Command, Option } from 'commander';
import type { Role } from '@lzy/runtime';
import { MAX_JWT_TTL_S } from '@lzy/runtime/protocol';
import { parseDuration } from '@lzy/sdk';
import { usageError } from '../cli-error.js';
import { openTarget, remoteOf, withTarget, type TargetOptions } from '../target.js';

interface CreateOptions extends TargetOptions {
  tenant?: string;
  role: Role | 'user';
  admin?: boolean;
  agent?: boolean;
  pool?: string;
  ttl?: string;
}

/**
 * `lzy token create --tenant NAME [--role ROLE]`: a token for a tenant (admins, or the tenant's
 * owners; an `admin` token only admins); `--agent --pool NAME`: a static pool's join token (admins only).
 */
export function tokenCommand(): Command {
  const token = new Command('token').description('manage tokens');
  token.addCommand(
    withTarget(
      new Command('create')
        .description("issue a token for a tenant (admins, or the tenant's owners), or a static pool's join token (admins: the token in the server's DATA_DIR/admin.token)")
        .option('--tenant <name>', 'the tenant: lowercase letters, digits, . _ -')
        .addOption(
          new Option('--role <role>', 'the role the token carries: in its tenant owner, member (run, cancel, read) or viewer (read); admin: the whole server; user: owner, as before roles')
            .choices(['owner', 'member', 'viewer', 'admin', 'user'])
            .default('owner'),
        )
        .option('--admin', 'the same as --role admin')
        .option('--ttl <duration>', "a JWT access token of the server's OIDC issuer that expires after this long (e.g. 10m, up to 24h), instead of an opaque token valid until revoked")
        .option('--agent', 'a join token for `lzy agent`, which lets agents join the static pool --pool')
        .option('--pool <name>', 'with --agent: the static pool'),
    ).action((options: CreateOptions) => create(options)),
  );
  return token;
}

async function create(options: CreateOptions): Promise<void> {
  if (options.agent ? options.pool === undefined || options.tenant !== undefined : options.tenant === undefined || options.pool !== undefined) {
    throw usageError('pass --tenant NAME, or --agent --pool NAME', 'a tenant token: `lzy token create --tenant NAME`; a join token: `lzy token create --agent --pool NAME`');
  }
  if (options.ttl !== undefined && options.agent) throw usageError('--ttl is for tenant tokens', 'a join token is opaque: drop --ttl');
  const ttlSeconds = options.ttl === undefined ? undefined : ttlOf(options.ttl);
  const target = await openTarget(options);
  try {
    const role: Role = options.admin ? 'admin' : options.role === 'user' ? 'owner' : options.role;
    const token = options.agent
      ? await target.issueJoinToken(options.pool!)
      : ttlSeconds === undefined
        ? await target.issueToken(options.tenant!, role)
        : await remoteOf(target, 'lzy token create --ttl').issueJwt(options.tenant!, role, ttlSeconds);
    process.stdout.write(`${token}\n`);
  } finally {
    await target.close();
  }
}

/** Whole seconds of a `--ttl`, 1 s to 24 h. */
function ttlOf(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value, '--ttl');
  } catch (error) {
    throw usageError((error as Error).message, 'e.g. --ttl 10m; up to 24h');
  }
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 1 || seconds > MAX_JWT_TTL_S) throw usageError(`--ttl ${value} is out of range`, 'from 1s up to 24h');
  return seconds;
}
