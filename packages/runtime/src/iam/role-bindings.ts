import type { Database, RootDatabase } from 'lmdb';
import type { Role } from './subject.js';

/** One role bound to a subject in a tenant. */
export interface RoleBinding {
  readonly tenant: string;
  /** A subject id (`Subject.id`). */
  readonly subject: string;
  readonly role: Role;
}

type BindingKey = [tenant: string, subject: string, role: Role];

/**
 * The roles bound to subjects, per tenant, in the runtime's lmdb state: one key per binding, so
 * that a grant or a revoke is one write and two of them never overwrite each other.
 */
export class RoleBindings {
  private readonly db: Database<true, BindingKey>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<true, BindingKey>({ name: 'iam.role-bindings' });
  }

  /** The roles bound to `subject` in `tenant`. */
  rolesOf(tenant: string, subject: string): Role[] {
    return this.within(tenant, subject).map((binding) => binding.role);
  }

  /** The bindings of `tenant` (of every tenant when `undefined`), by tenant, subject and role. */
  list(tenant?: string): RoleBinding[] {
    return this.within(tenant);
  }

  /** Binds `role`; durable once it resolves. Whether it was bound already. */
  async grant(binding: RoleBinding): Promise<boolean> {
    const key = keyOf(binding);
    if (this.db.get(key)) return true;
    await this.db.put(key, true);
    return false;
  }

  /** Unbinds `role`; durable once it resolves. Whether it was bound. */
  async revoke(binding: RoleBinding): Promise<boolean> {
    const key = keyOf(binding);
    if (!this.db.get(key)) return false;
    await this.db.remove(key);
    return true;
  }

  private within(tenant?: string, subject?: string): RoleBinding[] {
    const start = tenant === undefined ? undefined : subject === undefined ? [tenant] : [tenant, subject];
    const bindings: RoleBinding[] = [];
    for (const key of this.db.getKeys(start === undefined ? {} : { start: start as BindingKey })) {
      const [keyTenant, keySubject, role] = key;
      if ((tenant !== undefined && keyTenant !== tenant) || (subject !== undefined && keySubject !== subject)) break;
      bindings.push({ tenant: keyTenant, subject: keySubject, role });
    }
    return bindings;
  }
}

function keyOf({ tenant, subject, role }: RoleBinding): BindingKey {
  return [tenant, subject, role];
}
