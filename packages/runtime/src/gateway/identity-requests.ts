import type { OidcIssuer } from '../iam/oidc-issuer.js';
import type { RoleBinding } from '../iam/role-bindings.js';
import { tenantNameProblem } from '../iam/subject.js';
import { RuntimeError } from '../protocol/errors.js';
import type { ClientReply, ClientRequest } from '../protocol/gateway.js';

/** The requests that manage the runtime's OIDC issuer: its clients, its keys, and tokens for scripts. */
export type IdentityRequest = Extract<ClientRequest, { type: 'issue-jwt' | 'clients-create' | 'clients-list' | 'clients-remove' | 'keys-rotate' }>;

/** What identity requests change besides the issuer: the role bindings of clients' subjects. */
export interface ClientRoles {
  grant(binding: RoleBinding): Promise<void>;
  /** Unbinds every role of `subject` in `tenant`. */
  revokeAll(tenant: string, subject: string): Promise<void>;
}

/**
 * Serves an identity request, already authorized (see `REQUEST_PERMISSIONS`), with `issuer`,
 * which a runtime without one (the embedded one) has not. A client's role is a role binding of
 * its subject `client:<client_id>`, so `lzy roles` sees and changes it like any other.
 */
export async function serveIdentityRequest(
  request: IdentityRequest,
  issuer: OidcIssuer | undefined,
  roles: ClientRoles,
): Promise<ClientReply<IdentityRequest['type']>> {
  if (!issuer) throw new RuntimeError('NOT_SUPPORTED', 'this runtime has no OIDC issuer; `lzy server` has one');
  switch (request.type) {
    case 'issue-jwt':
      checkTenant(request.tenant);
      return issuer.mint(request.tenant, [request.role], request.ttlSeconds);
    case 'clients-create': {
      checkTenant(request.tenant);
      const created = await issuer.clients.create(request.tenant);
      await roles.grant({ tenant: request.tenant, subject: `client:${created.clientId}`, role: request.role });
      return created;
    }
    case 'clients-list':
      return issuer.clients.list();
    case 'clients-remove': {
      const client = issuer.clients.find(request.clientId);
      if (!client) throw new RuntimeError('NOT_FOUND', `no client ${request.clientId}`);
      await issuer.clients.remove(client.clientId);
      await roles.revokeAll(client.tenant, `client:${client.clientId}`);
      return null;
    }
    case 'keys-rotate':
      return { kid: await issuer.rotateKeys() };
  }
}

function checkTenant(tenant: string): void {
  const problem = tenantNameProblem(tenant);
  if (problem) throw new RuntimeError('BAD_REQUEST', problem);
}
