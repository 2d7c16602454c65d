import { createHash, randomBytes } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import { tenantNameProblem, type Role, type Subject } from './subject.js';

export type { Role, Subject } from './subject.js';

/**
 * What a tenant's token grants, as stored: its tenant and the one role it carries. Tokens issued
 * before roles existed say `user`, which is the `owner` of its tenant now.
 */
interface TokenGrant {
  readonly tenant: string;
  readonly role: Role | 'user';
}

/** What a pool's join token grants: an agent may join that static pool as a free node (`lzy agent`). */
export interface JoinGrant {
  readonly role: 'agent';
  readonly pool: string;
}

/** Every token IAM issues starts with this, so a gateway can tell them from other credentials. */
export const TOKEN_PREFIX = 'lzy_';

/**
 * The embedded identity service: issues opaque tokens for tenants (and join tokens for the agents
 * of static pools) and verifies them. Only a hash
 * of each token is stored, so the state on disk grants nothing.
 */
export class Iam {
  private readonly tokens: Database<TokenGrant | JoinGrant, string>;

  constructor(root: RootDatabase) {
    this.tokens = root.openDB<TokenGrant | JoinGrant, string>({ name: 'iam.tokens' });
  }

  /** A new token for `tenant` carrying `role`; durable before it is returned. */
  async issueToken(tenant: string, role: Role = 'owner'): Promise<string> {
    const problem = tenantNameProblem(tenant);
    if (problem) throw new Error(problem);
    return this.issue({ tenant, role });
  }

  /** A new join token of the static pool `pool` (the caller checks that the pool exists). */
  async issueJoinToken(pool: string): Promise<string> {
    return this.issue({ role: 'agent', pool });
  }

  /** The subject of a tenant's `token`; throws an error naming the problem for an unknown one or a join token. */
  verify(token: string | undefined): Subject {
    const { hash, grant } = this.lookup(token);
    if (grant.role === 'agent') throw new Error(`this is a join token of pool ${grant.pool}, for \`lzy agent\`; clients need a tenant token`);
    return { id: `token:${hash.slice(0, 16)}`, tenant: grant.tenant, roles: [grant.role === 'user' ? 'owner' : grant.role] };
  }

  /** Checks that `token` lets an agent join the static pool `pool`; throws an error naming the problem. */
  verifyJoin(token: string, pool: string): void {
    const { grant } = this.lookup(token);
    if (grant.role !== 'agent') throw new Error(`this is a token of tenant ${grant.tenant}, not a pool join token`);
    if (grant.pool !== pool) throw new Error(`this join token is for pool ${grant.pool}, not ${pool}`);
  }

  private lookup(token: string | undefined): { hash: string; grant: TokenGrant | JoinGrant } {
    const hash = token ? hashToken(token) : '';
    const grant = token ? this.tokens.get(hash) : undefined;
    if (!grant) throw new Error(token ? 'unknown token' : 'no token given');
    return { hash, grant };
  }

  private async issue(grant: TokenGrant | JoinGrant): Promise<string> {
    const token = `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
    await this.tokens.put(hashToken(token), grant);
    return token;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
