import { createHash, randomBytes } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';

/** Who a verified token belongs to. */
export interface Subject {
  readonly tenant: string;
  readonly role: 'user' | 'admin';
}

const TENANT = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Every token IAM issues starts with this, so a gateway can tell them from other credentials. */
export const TOKEN_PREFIX = 'lzy_';

/**
 * The embedded identity service: issues opaque tokens for tenants and verifies them. Only a hash
 * of each token is stored, so the state on disk grants nothing.
 */
export class Iam {
  private readonly tokens: Database<Subject, string>;

  constructor(root: RootDatabase) {
    this.tokens = root.openDB<Subject, string>({ name: 'iam.tokens' });
  }

  /** A new token for `tenant`; durable before it is returned. */
  async issueToken(tenant: string, role: Subject['role'] = 'user'): Promise<string> {
    if (!TENANT.test(tenant)) throw new Error(`bad tenant name ${JSON.stringify(tenant)}: lowercase letters, digits, . _ -, up to 63`);
    const token = `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
    await this.tokens.put(hashToken(token), { tenant, role });
    return token;
  }

  /** The subject of `token`; throws an error naming the problem for an unknown one. */
  verify(token: string | undefined): Subject {
    const subject = token ? this.tokens.get(hashToken(token)) : undefined;
    if (!subject) throw new Error(token ? 'unknown token' : 'no token given');
    return subject;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
