import t from 'tap';
import { denialOf } from '../src/iam/authorization.js';
import { REQUEST_PERMISSIONS, resourceOf } from '../src/iam/request-access.js';
import type { Role, Subject } from '../src/iam/subject.js';
import type { ClientRequest } from '../src/protocol/gateway.js';

/** One request of each kind a client makes, named; those naming a tenant or a role come in each form that decides differently. */
const requests: Record<string, ClientRequest> = {
  whoami: { type: 'whoami' },
  start: { type: 'start', name: 'run', watch: 'w' },
  watch: { type: 'watch', workflowId: 'wf-1', watch: 'w' },
  unwatch: { type: 'unwatch', watch: 'w' },
  submit: { type: 'submit', workflowId: 'wf-1', ops: [] },
  finish: { type: 'finish', workflowId: 'wf-1' },
  cancel: { type: 'cancel', workflowId: 'wf-1', reason: '' },
  list: { type: 'list', skip: 0, limit: 1 },
  describe: { type: 'describe', workflowId: 'wf-1', skipOps: 0, limitOps: 1 },
  assign: { type: 'assign', workflowId: 'wf-1', fields: [] },
  whiteboards: { type: 'whiteboards', query: {}, skip: 0 },
  logs: { type: 'logs', workflowId: 'wf-1', afterSeq: 0, limit: 1, waitMs: 0 },
  write: { type: 'write', workflowId: 'wf-1', uploadId: 'u', hash: '0'.repeat(64), offset: 0, bytes: new Uint8Array(), last: true },
  read: { type: 'read', uri: `blob:${'0'.repeat(64)}`, offset: 0, length: 1 },
  'issue-token': { type: 'issue-token', tenant: 'acme', role: 'member' },
  'issue-token of another tenant': { type: 'issue-token', tenant: 'bravo', role: 'member' },
  'issue-token as admin': { type: 'issue-token', tenant: 'acme', role: 'admin' },
  'issue-join-token': { type: 'issue-join-token', pool: 'default' },
  'grant-role': { type: 'grant-role', tenant: 'acme', subject: 'token:0123456789abcdef', role: 'viewer' },
  'grant-role of another tenant': { type: 'grant-role', tenant: 'bravo', subject: 'token:0123456789abcdef', role: 'viewer' },
  'grant-role admin': { type: 'grant-role', tenant: 'acme', subject: 'token:0123456789abcdef', role: 'admin' },
  'revoke-role': { type: 'revoke-role', tenant: 'acme', subject: 'token:0123456789abcdef', role: 'viewer' },
  'list-roles': { type: 'list-roles', tenant: 'acme' },
  'list-roles of every tenant': { type: 'list-roles' },
};

const reads = ['whoami', 'watch', 'unwatch', 'list', 'describe', 'whiteboards', 'logs', 'read'];
const runs = ['start', 'submit', 'finish', 'cancel', 'assign', 'write'];
const manages = ['issue-token', 'grant-role', 'revoke-role', 'list-roles'];

/** What a subject of tenant acme holding `roles` may do, by the names above. */
function allowed(roles: Role[]): string[] {
  const subject: Subject = { id: 'token:0123456789abcdef', tenant: 'acme', roles };
  return Object.entries(requests)
    .filter(([, request]) => {
      const permission = REQUEST_PERMISSIONS[request.type];
      return permission === null || denialOf(subject, roles, permission, resourceOf(subject, request)) === undefined;
    })
    .map(([name]) => name)
    .sort();
}

t.test('each role may do what it says, in its own tenant only, and only an admin acts on the server', async (t) => {
  t.same(allowed(['viewer']), [...reads].sort(), 'a viewer reads');
  t.same(allowed(['member']), [...reads, ...runs].sort(), 'a member reads, runs and cancels');
  t.same(allowed(['owner']), [...reads, ...runs, ...manages].sort(), "an owner also manages its tenant's tokens and roles");
  t.same(allowed(['admin']), Object.keys(requests).sort(), 'an admin does anything');
  t.same(allowed([]), ['whoami'], 'a subject without a role may only ask who it is');
  t.same(allowed(['viewer', 'member']), allowed(['member']), 'roles add up');
});

t.test('a denial names the permission, the role it needs, and what the subject has', async (t) => {
  const subject: Subject = { id: 'token:0123456789abcdef', tenant: 'acme', roles: ['viewer'] };
  t.equal(
    denialOf(subject, ['viewer'], 'runs.cancel', { tenant: 'acme' }),
    'runs.cancel needs the member role in tenant acme; subject token:0123456789abcdef has viewer in tenant acme',
  );
  t.equal(
    denialOf(subject, ['owner'], 'roles.manage', { tenant: 'bravo' }),
    'roles.manage needs the owner role in tenant bravo; subject token:0123456789abcdef has owner in tenant acme',
  );
  t.equal(denialOf(subject, [], 'join-tokens.issue', 'server'), 'join-tokens.issue needs the admin role; subject token:0123456789abcdef has no role in tenant acme');
});
