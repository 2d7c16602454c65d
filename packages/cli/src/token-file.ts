import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Role, Runtime } from '@lzy/runtime';

/**
 * The token kept in `file` (mode 0600) for `tenant` with `role`: the one there when this runtime
 * knows it, else a new one written there. `note` hears of a file replaced or made.
 */
export async function ensureTokenFile(runtime: Runtime, file: string, tenant: string, role: Role, note: (text: string) => void): Promise<{ token: string; created: boolean }> {
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    try {
      runtime.iam.verify(kept);
      return { token: kept, created: false };
    } catch {
      note(`${file} holds no token this runtime knows; creating a new one`);
    }
  }
  const token = await runtime.iam.issueToken(tenant, role);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${token}\n`, { mode: 0o600 });
  renameSync(temp, file);
  return { token, created: true };
}
