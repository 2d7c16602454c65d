import { Command, Option } from 'commander';
import { openTarget, withTarget, type TargetOptions } from '../target.js';

/** `lzy token create --tenant NAME`: a token for a tenant, issued by an admin. */
export function tokenCommand(): Command {
  const token = new Command('token').description('manage tokens');
  token.addCommand(
    withTarget(
      new Command('create')
        .description("issue a token for a tenant (admins only: use the token in the server's DATA_DIR/admin.token)")
        .requiredOption('--tenant <name>', 'the tenant: lowercase letters, digits, . _ -')
        .addOption(new Option('--role <role>', 'what the token may do').choices(['user', 'admin']).default('user')),
    ).action((options: TargetOptions & { tenant: string; role: 'user' | 'admin' }) => create(options)),
  );
  return token;
}

async function create(options: TargetOptions & { tenant: string; role: 'user' | 'admin' }): Promise<void> {
  const target = await openTarget(options);
  try {
    process.stdout.write(`${await target.issueToken(options.tenant, options.role)}\n`);
  } finally {
    await target.close();
  }
}
