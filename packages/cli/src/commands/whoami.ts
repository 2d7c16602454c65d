import { Command } from 'commander';
import { openTarget, remoteOf, withTarget, type TargetOptions } from '../target.js';

/** `lzy whoami [--json]`: the subject id, tenant and roles of your credential on a shared runtime. */
export function whoamiCommand(): Command {
  return withTarget(
    new Command('whoami')
      .description('print who your token is on a shared runtime: its subject id (for `lzy roles grant`), tenant and roles')
      .option('--json', 'print JSON: {id, tenant, roles}'),
  ).action((options: TargetOptions & { json?: boolean }) => whoami(options));
}

async function whoami(options: TargetOptions & { json?: boolean }): Promise<void> {
  const target = await openTarget(options);
  try {
    const me = await remoteOf(target, 'lzy whoami').whoami();
    process.stdout.write(options.json ? `${JSON.stringify(me)}\n` : `${me.id} in tenant ${me.tenant}: ${me.roles.join(', ') || 'no role'}\n`);
  } finally {
    await target.close();
  }
}
