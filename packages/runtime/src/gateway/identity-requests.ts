import type { OidcIssuer } from '../iam/oidc-issuer.js';
import type { Subject } from '../iam/subject.js';
import { isTenantName, TENANT_NAME_RULE } from '../iam/tenant-name.js';
import type { ClientReply, ClientRequest } from '../protocol/gateway.js';

/** The requests that manage the runtime's OIDC issuer: its clients, its keys, and tokens for scripts. */
export type IdentityRequest = Extract<ClientRequest, { type: 'issue-jwt' | 'clients-create' | 'clients-list' | 'clients-remove' | 'keys-rotate' }>;

/** An identity request refused, with the code the client branches on. */
export class IdentityRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Serves an identity request of `subject` (admins only) with `issuer`, which a runtime without one (the embedded one) has not. */
export async function serveIdentityRequest(
  subject: Subject,
  request: IdentityRequest,
  issuer: OidcIssuer | undefined,
): Promise<ClientReply<IdentityRequest['type']>> {
  if (!subject.roles.includes('admin')) {
    throw new IdentityRefused('FORBIDDEN', `only an admin may manage the issuer's clients, keys and tokens; this credential has ${subject.roles.join(', ') || 'no role'}`);
  }
  if (!issuer) throw new IdentityRefused('NOT_SUPPORTED', 'this runtime has no OIDC issuer; `lzy server` has one');
  switch (request.type) {
    case 'issue-jwt':
      checkTenant(request.tenant);
      return issuer.mint(request.tenant, [request.role], request.ttlSeconds);
    case 'clients-create':
      checkTenant(request.tenant);
      return issuer.clients.create(request.tenant, [request.role]);
    case 'clients-list':
      return issuer.clients.list().map((client) => ({ ...client, roles: [...client.roles] }));
    case 'clients-remove':
      if (!(await issuer.clients.remove(request.clientId))) throw new IdentityRefused('NOT_FOUND', `no client ${request.clientId}`);
      return null;
    case 'keys-rotate':
      return { kid: await issuer.rotateKeys() };
  }
}

function checkTenant(tenant: string): void {
  if (!isTenantName(tenant)) throw new IdentityRefused('BAD_REQUEST', `bad tenant name ${JSON.stringify(tenant)}: ${TENANT_NAME_RULE}`);
}
