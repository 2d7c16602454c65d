import type { Role } from './subject.js';

/**
 * What a call may need. `runs.start` starts a run and builds it (adds ops, finishes it, assigns its
 * whiteboard fields); `runs.read` lists, describes and follows runs; `join-tokens.issue` lets agents
 * join a static pool, which only the server's admin may.
 */
export type Permission =
  | 'runs.start'
  | 'runs.cancel'
  | 'runs.read'
  | 'logs.read'
  | 'whiteboards.read'
  | 'blobs.read'
  | 'blobs.write'
  | 'tokens.issue'
  | 'roles.manage'
  | 'join-tokens.issue'
  /** The issuer's clients as a whole, and its signing keys: the server's admin only. */
  | 'issuer.manage';

const VIEWER: readonly Permission[] = ['runs.read', 'logs.read', 'whiteboards.read', 'blobs.read'];
const MEMBER: readonly Permission[] = [...VIEWER, 'runs.start', 'runs.cancel', 'blobs.write'];
const OWNER: readonly Permission[] = [...MEMBER, 'tokens.issue', 'roles.manage'];

/** What each role of a tenant may do there; `admin` may do anything anywhere, and has no entry. */
export const TENANT_ROLE_PERMISSIONS: Readonly<Record<Exclude<Role, 'admin'>, readonly Permission[]>> = {
  viewer: VIEWER,
  member: MEMBER,
  owner: OWNER,
};

/** The weakest role of a tenant that has `permission`, or `admin` when none has. */
export function weakestRoleWith(permission: Permission): Role {
  return (['viewer', 'member', 'owner'] as const).find((role) => TENANT_ROLE_PERMISSIONS[role].includes(permission)) ?? 'admin';
}
