import { Command } from 'commander';
import { openRemoteTarget, withTarget, type TargetOptions } from '../target.js';

/** `lzy keys rotate`: the shared runtime's issuer signs with a new key; tokens of the former one stay valid until they expire. Admins only. */
export function keysCommand(): Command {
  const keys = new Command('keys').description("manage the signing keys of a shared runtime's OIDC issuer (admins only)");
  keys.addCommand(
    withTarget(new Command('rotate').description('sign with a new key from now on; tokens signed with the former one stay valid until they expire')).action(
      async (options: TargetOptions) => {
        const target = await openRemoteTarget(options, 'lzy keys rotate');
        try {
          const kid = await target.remote.rotateKeys();
          process.stdout.write(`new signing key ${kid}\n`);
        } finally {
          await target.close();
        }
      },
    ),
  );
  return keys;
}
