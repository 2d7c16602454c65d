import type { Permission } from './permissions.js';
import { TENANT_ROLE_PERMISSIONS, weakestRoleWith } from './permissions.js';
import type { Role, Subject } from './subject.js';

/** What a call acts on: something of one tenant, or the server as a whole (admins only). */
export type Resource = { readonly tenant: string } | 'server';

/**
 * Why `subject`, holding `roles` (those its credential carries and those bound to it), may not
 * use `permission` on `resource`; `undefined` when it may. An admin may do anything; a role of a
 * tenant counts only in the subject's own tenant.
 */
export function denialOf(subject: Subject, roles: readonly Role[], permission: Permission, resource: Resource): string | undefined {
  if (roles.includes('admin')) return undefined;
  const has = `subject ${subject.id} has ${roles.length === 0 ? 'no role' : roles.join(', ')} in tenant ${subject.tenant}`;
  if (resource === 'server') return `${permission} needs the admin role; ${has}`;
  const allowed = resource.tenant === subject.tenant && roles.some((role) => role !== 'admin' && TENANT_ROLE_PERMISSIONS[role].includes(permission));
  return allowed ? undefined : `${permission} needs the ${weakestRoleWith(permission)} role in tenant ${resource.tenant}; ${has}`;
}
