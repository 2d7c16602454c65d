import { ask, spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import { RuntimeError } from '../protocol/errors.js';
import type { Result } from '../result.js';
import { denialOf, type Resource } from './authorization.js';
import type { Permission } from './permissions.js';
import type { RoleBinding, RoleBindings } from './role-bindings.js';
import { TOKEN_PREFIX } from './iam.js';
import { tenantNameProblem, type Role, type Subject } from './subject.js';

/** A request to the IAM service. */
export type IamMsg =
  /** The roles `subject` holds now, once it may use `permission` on `resource` (`null`: any verified subject may); else `FORBIDDEN`. */
  | { type: 'authorize'; subject: Subject; permission: Permission | null; resource: Resource; replyTo: ActorRef<Result<Role[]>> }
  | { type: 'grant'; binding: RoleBinding; replyTo: ActorRef<Result<null>> }
  /** `NOT_FOUND` when the role is not bound to the subject there. */
  | { type: 'revoke'; binding: RoleBinding; replyTo: ActorRef<Result<null>> }
  /** The bindings of `tenant`, or of every tenant. */
  | { type: 'list'; tenant: string | undefined; replyTo: ActorRef<RoleBinding[]> };

/**
 * The IAM service: holds the role bindings (tenant, subject id → roles) and decides every call.
 * A call's roles are those its credential carries and those bound to its subject in its tenant,
 * read when the call is made, so a grant or a revoke counts from the next call on.
 */
export function spawnIamService(parent: Parent, bindings: RoleBindings): ActorRef<IamMsg> {
  return spawnActor<undefined, IamMsg>(parent, {
    name: 'iam',
    initialState: () => undefined,
    supervision: 'resume',
    receive: async (state, msg) => {
      switch (msg.type) {
        case 'authorize':
          tell(msg.replyTo, decide(bindings, msg.subject, msg.permission, msg.resource));
          break;
        case 'grant':
        case 'revoke':
          tell(msg.replyTo, await change(bindings, msg.type, msg.binding));
          break;
        case 'list':
          tell(msg.replyTo, bindings.list(msg.tenant));
          break;
      }
      return state;
    },
  });
}

/**
 * The roles `subject` holds now (those its credential carries and those bound to it in its tenant),
 * once it may use `permission` on `resource` (`null`: any verified subject may); else `FORBIDDEN`.
 * Synchronous: the gateway decides each client call with it, without a message to the service.
 */
export function decide(bindings: RoleBindings, subject: Subject, permission: Permission | null, resource: Resource): Result<Role[]> {
  const roles = [...new Set([...subject.roles, ...bindings.rolesOf(subject.tenant, subject.id)])];
  const denial = permission === null ? undefined : denialOf(subject, roles, permission, resource);
  return denial === undefined ? { ok: true, value: roles } : { ok: false, error: { code: 'FORBIDDEN', message: denial } };
}

async function change(bindings: RoleBindings, how: 'grant' | 'revoke', binding: RoleBinding): Promise<Result<null>> {
  const problem = tenantNameProblem(binding.tenant) ?? subjectIdProblem(binding.subject);
  if (problem) return { ok: false, error: { code: 'BAD_REQUEST', message: problem } };
  if (how === 'grant') await bindings.grant(binding);
  else if (!(await bindings.revoke(binding))) {
    const { tenant, subject, role } = binding;
    const bound = bindings.rolesOf(tenant, subject);
    const message = `subject ${subject} has no ${role} role bound in tenant ${tenant} (bound: ${bound.join(', ') || 'none'}; a role its credential carries is not a binding)`;
    return { ok: false, error: { code: 'NOT_FOUND', message } };
  }
  return { ok: true, value: null };
}

/** What is wrong with a subject id, if anything: see `Subject.id` for its forms. */
function subjectIdProblem(id: string): string | undefined {
  // Never echoed: a secret pasted in the wrong place stays out of errors and logs.
  if (id.startsWith(TOKEN_PREFIX)) return 'the subject given is a token, not a subject id: `lzy whoami` with that token prints its id';
  if (/^token:[0-9a-f]{16}$/.test(id) || /^client:[^\s]{1,200}$/.test(id) || /^[^\s#]{1,400}#[^\s]{1,200}$/.test(id)) return undefined;
  return `${JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}...` : id)} is not a subject id: token:<16 hex>, client:<client id> or <issuer>#<subject>, as \`lzy whoami\` prints it`;
}

/**
 * Asks the IAM service whether `subject` may use `permission` on `resource`: the roles it holds,
 * or a `FORBIDDEN` `RuntimeError`; the retryable `SHUTTING_DOWN` when the service has stopped.
 */
export async function authorize(iam: ActorRef<IamMsg>, subject: Subject, permission: Permission | null, resource: Resource): Promise<Role[]> {
  const reply = await ask(iam, { type: 'authorize', subject, permission, resource }, 30_000).catch((error: Error) => {
    throw new RuntimeError('SHUTTING_DOWN', `the runtime is shutting down (${error.message}); try again once it is back`);
  });
  if (!reply.ok) throw new RuntimeError(reply.error.code, reply.error.message);
  return reply.value;
}
