import { Command, Option } from 'commander';
import { ROLES, type Role } from '@lzy/runtime/protocol';
import { openTarget, remoteOf, withTarget, type TargetOptions } from '../target.js';
import { textTable } from '../text-table.js';

interface BindingOptions extends TargetOptions {
  tenant: string;
  subject: string;
  role: Role;
}

interface ListOptions extends TargetOptions {
  tenant?: string;
  json?: boolean;
}

/**
 * `lzy roles grant|revoke --tenant T --subject S --role R`, `lzy roles ls [--tenant T] [--json]`:
 * the roles bound to subjects, which count on their next call. Admins, or owners of the tenant.
 */
export function rolesCommand(): Command {
  const roles = new Command('roles').description("manage the roles bound to subjects of a tenant (admins, or the tenant's owners)");
  const binding = (name: string, description: string) =>
    withTarget(
      new Command(name)
        .description(description)
        .requiredOption('--tenant <name>', 'the tenant the role is bound in: the subject\'s own')
        .requiredOption('--subject <id>', 'the subject id, as `lzy whoami` prints it: token:<16 hex>, client:<client id> or <issuer>#<subject>')
        .addOption(new Option('--role <role>', 'owner, member (run, cancel, read), viewer (read); admin: the whole server').choices(ROLES).makeOptionMandatory()),
    );
  roles.addCommand(binding('grant', 'bind a role to a subject; it counts from its next call').action((options: BindingOptions) => change('grant', options)));
  roles.addCommand(binding('revoke', 'unbind a role from a subject; its next call has it no more').action((options: BindingOptions) => change('revoke', options)));
  roles.addCommand(
    withTarget(
      new Command('ls')
        .description("list the role bindings of a tenant (default: yours; an admin's: every tenant's)")
        .option('--tenant <name>', 'the tenant')
        .option('--json', 'print JSON: a list of {tenant, subject, role}'),
    ).action((options: ListOptions) => list(options)),
  );
  return roles;
}

async function change(how: 'grant' | 'revoke', options: BindingOptions): Promise<void> {
  const target = await openTarget(options);
  try {
    const remote = remoteOf(target, `lzy roles ${how}`);
    const { tenant, subject, role } = options;
    if (how === 'grant') await remote.grantRole(tenant, subject, role);
    else await remote.revokeRole(tenant, subject, role);
    process.stdout.write(`${how === 'grant' ? 'granted' : 'revoked'} ${role} ${how === 'grant' ? 'to' : 'from'} ${subject} in tenant ${tenant}\n`);
  } finally {
    await target.close();
  }
}

async function list(options: ListOptions): Promise<void> {
  const target = await openTarget(options);
  try {
    const remote = remoteOf(target, 'lzy roles ls');
    // Without --tenant an admin sees every tenant, anyone else their own.
    const tenant = options.tenant ?? ((await remote.whoami()).roles.includes('admin') ? undefined : remote.tenant);
    const bindings = await remote.listRoles(tenant);
    if (options.json) process.stdout.write(`${JSON.stringify(bindings)}\n`);
    else if (bindings.length === 0) process.stdout.write(`no roles bound${tenant === undefined ? '' : ` in tenant ${tenant}`}\n`);
    else process.stdout.write(textTable([['TENANT', 'SUBJECT', 'ROLE'], ...bindings.map((b) => [b.tenant, b.subject, b.role])]));
  } finally {
    await target.close();
  }
}
