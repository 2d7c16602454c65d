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

/** Subjects whose bound roles are kept in memory at most; past it the memo starts afresh. */
const MEMO_SUBJECTS = 10_000;

/**
 * The roles bound to subjects, per tenant, in the runtime's lmdb state: one key per binding, so
 * that a grant or a revoke is one write and two of them never overwrite each other. This runtime
 * is the only writer of its state, so the roles read for a subject are kept in memory (every call
 * of a client reads them) until a grant or a revoke of that subject is durable.
 */
export class RoleBindings {
  private readonly db: Database<true, BindingKey>;
  private readonly memo = new Map<string, readonly Role[]>();

  constructor(root: RootDatabase) {
    this.db = root.openDB<true, BindingKey>({ name: 'iam.role-bindings' });
  }

  /** The roles bound to `subject` in `tenant`. */
  rolesOf(tenant: string, subject: string): readonly Role[] {
    const key = memoKey(tenant, subject);
    let roles = this.memo.get(key);
    if (roles === undefined) {
      roles = this.within(tenant, subject).map((binding) => binding.role);
      if (this.memo.size >= MEMO_SUBJECTS) this.memo.clear();
      this.memo.set(key, roles);
    }
    return roles;
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
    this.memo.delete(memoKey(binding.tenant, binding.subject));
    return false;
  }

  /** Unbinds `role`; durable once it resolves. Whether it was bound. */
  async revoke(binding: RoleBinding): Promise<boolean> {
    const key = keyOf(binding);
    if (!this.db.get(key)) return false;
    await this.db.remove(key);
    this.memo.delete(memoKey(binding.tenant, binding.subject));
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

function memoKey(tenant: string, subject: string): string {
  return `${tenant}\n${subject}`;
}

function keyOf({ tenant, subject, role }: RoleBinding): BindingKey {
  return [tenant, subject, role];
}
