import type { ClientRequest } from '../protocol/gateway.js';
import type { Resource } from './authorization.js';
import type { Permission } from './permissions.js';
import type { Subject } from './subject.js';

/** The permission each request of a client needs; `null`: any verified subject may make it. */
export const REQUEST_PERMISSIONS: Readonly<Record<ClientRequest['type'], Permission | null>> = {
  whoami: null,
  start: 'runs.start',
  submit: 'runs.start',
  finish: 'runs.start',
  assign: 'runs.start',
  cancel: 'runs.cancel',
  list: 'runs.read',
  describe: 'runs.read',
  watch: 'runs.read',
  unwatch: 'runs.read',
  logs: 'logs.read',
  whiteboards: 'whiteboards.read',
  read: 'blobs.read',
  write: 'blobs.write',
  'issue-token': 'tokens.issue',
  'issue-join-token': 'join-tokens.issue',
  'grant-role': 'roles.manage',
  'revoke-role': 'roles.manage',
  'list-roles': 'roles.manage',
  'issue-jwt': 'tokens.issue',
  'clients-create': 'tokens.issue',
  'clients-list': 'issuer.manage',
  'clients-remove': 'issuer.manage',
  'keys-rotate': 'issuer.manage',
};

/**
 * What `request` acts on: the caller's own tenant (a client reaches only its own runs, logs,
 * whiteboards and blobs), the tenant it names (tokens and roles), or the server (join tokens,
 * the `admin` role, the roles of every tenant).
 */
export function resourceOf(subject: Subject, request: ClientRequest): Resource {
  switch (request.type) {
    case 'issue-token':
    case 'issue-jwt':
    case 'clients-create':
    case 'grant-role':
    case 'revoke-role':
      return request.role === 'admin' ? 'server' : { tenant: request.tenant };
    case 'list-roles':
      return request.tenant === undefined ? 'server' : { tenant: request.tenant };
    case 'issue-join-token':
    case 'clients-list':
    case 'clients-remove':
    case 'keys-rotate':
      return 'server';
    default:
      return { tenant: subject.tenant };
  }
}
