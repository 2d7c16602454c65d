import { Command, Option } from 'commander';
import { RemoteConnection } from '@lzy/sdk';
import { CliError } from '../cli-error.js';
import { writeCredentials } from '../credentials-file.js';

interface LoginOptions {
  clientId: string;
  clientSecret: string;
  endpoint: string;
}

/** `lzy login`: checks a client's credentials against a shared runtime and keeps them for the other commands. */
export function loginCommand(): Command {
  return new Command('login')
    .description('keep the credentials of a client (`lzy clients create`) for a shared runtime; commands then fetch and renew tokens with them')
    .requiredOption('--client-id <id>', 'the client_id')
    .requiredOption('--client-secret <secret>', 'the client_secret')
    .addOption(new Option('--endpoint <url>', 'the shared runtime, ws://HOST:PORT').env('LZY_ENDPOINT').default('ws://127.0.0.1:8080'))
    .action(async (options: LoginOptions) => {
      const { clientId, clientSecret, endpoint } = options;
      const connection = await RemoteConnection.open({ endpoint, clientId, clientSecret, connectTimeoutMs: 5_000 }).catch((error: Error) => {
        throw new CliError(error.message, 'check --client-id, --client-secret and --endpoint; an admin creates clients with `lzy clients create --tenant NAME`');
      });
      const { tenant, roles } = await connection.whoami();
      await connection.close();
      const file = writeCredentials({ endpoint, clientId, clientSecret });
      process.stdout.write(`logged in to ${endpoint} as ${clientId} (tenant ${tenant}, ${roles.join(', ') || 'no role'}); credentials in ${file}\n`);
    });
}
