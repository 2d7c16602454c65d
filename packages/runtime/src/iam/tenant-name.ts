const TENANT = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** What a tenant's name may be, for error messages. */
export const TENANT_NAME_RULE = 'lowercase letters, digits, . _ -, up to 63';

/** Whether `name` may name a tenant. */
export function isTenantName(name: unknown): name is string {
  return typeof name === 'string' && TENANT.test(name);
}
