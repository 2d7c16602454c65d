import { Command, Option } from 'commander';
import { ROLES, type Role } from '@lzy/runtime/protocol';
import { openRemoteTarget, withTarget, type TargetOptions } from '../target.js';

interface CreateOptions extends TargetOptions {
  tenant: string;
  role: Role;
  json?: boolean;
}

interface ListOptions extends TargetOptions {
  json?: boolean;
}

/** `lzy clients create|ls|rm`: the service accounts of a shared runtime, clients of its OIDC issuer. Admins only. */
export function clientsCommand(): Command {
  const clients = new Command('clients').description("manage the service accounts of a shared runtime: clients of its OIDC issuer (admins only)");
  clients.addCommand(
    withTarget(
      new Command('create')
        .description('a new client of a tenant; prints its client_id and client_secret (shown only once)')
        .requiredOption('--tenant <name>', 'the tenant its tokens are for')
        .addOption(new Option('--role <role>', 'the role bound to it in its tenant (subject client:<client_id>; `lzy roles` changes it)').choices(ROLES).default('owner'))
        .option('--json', 'print {"client_id": ..., "client_secret": ...}'),
    ).action(async (options: CreateOptions) => {
      const target = await openRemoteTarget(options, 'lzy clients create');
      try {
        const { clientId, clientSecret } = await target.remote.createClient(options.tenant, options.role);
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ client_id: clientId, client_secret: clientSecret })}\n`
            : `client_id      ${clientId}\nclient_secret  ${clientSecret}\n(the secret is not shown again; log in with \`lzy login --client-id ${clientId} --client-secret SECRET\`)\n`,
        );
      } finally {
        await target.close();
      }
    }),
  );
  clients.addCommand(
    withTarget(new Command('ls').description('the clients, without their secrets (their roles: `lzy roles ls`, subject client:<client_id>)').option('--json', 'one JSON array')).action(
      async (options: ListOptions) => {
        const target = await openRemoteTarget(options, 'lzy clients ls');
        try {
          const list = await target.remote.listClients();
          if (options.json) {
            process.stdout.write(`${JSON.stringify(list.map((c) => ({ client_id: c.clientId, tenant: c.tenant, created: new Date(c.createdAt).toISOString() })))}\n`);
            return;
          }
          for (const c of list) process.stdout.write(`${c.clientId}  ${c.tenant}  ${new Date(c.createdAt).toISOString()}\n`);
        } finally {
          await target.close();
        }
      },
    ),
  );
  clients.addCommand(
    withTarget(new Command('rm').description('removes a client: it gets no new tokens (those it has expire by themselves)').argument('<client-id>')).action(
      async (clientId: string, options: TargetOptions) => {
        const target = await openRemoteTarget(options, 'lzy clients rm');
        try {
          await target.remote.removeClient(clientId);
        } finally {
          await target.close();
        }
      },
    ),
  );
  return clients;
}
