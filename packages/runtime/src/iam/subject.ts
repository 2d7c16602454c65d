/** A role: server-wide `admin`, or per tenant `owner`, `member` (run, cancel, read), `viewer` (read only). */
export type Role = 'admin' | 'owner' | 'member' | 'viewer';

/** Every role, the strongest first. */
export const ROLES: readonly Role[] = ['admin', 'owner', 'member', 'viewer'];

/** Who is calling, from a verified credential. */
export interface Subject {
  /** Stable id: `token:<first 16 hex of the token's sha256>` for an opaque token, `client:<client_id>`
   *  for an OIDC client of this server, `<issuer>#<sub>` for a trusted external issuer's subject. */
  readonly id: string;
  readonly tenant: string;
  /** Roles the credential itself carries (an opaque token's role; a JWT's roles claim). */
  readonly roles: readonly Role[];
}

const TENANT = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** What is wrong with a tenant's name, if anything. */
export function tenantNameProblem(name: string): string | undefined {
  return TENANT.test(name) ? undefined : `bad tenant name ${JSON.stringify(name)}: lowercase letters, digits, . _ -, up to 63`;
}
