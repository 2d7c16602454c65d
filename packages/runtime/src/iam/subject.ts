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

/** Whether `value` names a role. */
export function isRole(value: unknown): value is Role {
  return (ROLES as readonly unknown[]).includes(value);
}
