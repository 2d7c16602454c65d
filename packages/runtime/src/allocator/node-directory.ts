import { randomBytes } from 'node:crypto';
import type { ActorRef } from '@lzy/actors';
import type { LeaseMsg } from './lease.js';

/** The identity a node-agent proves with its one-time token: set by the gateway, never by a message. */
export interface NodePrincipal {
  readonly kind: 'node';
  readonly nodeId: string;
  readonly tenant: string;
  readonly pool: string;
}

/**
 * The leases of the runtime by node id, and the one-time registration tokens that let a
 * node-agent connect: a token is good for one connection of the node it was issued for.
 */
export class NodeDirectory {
  private readonly leases = new Map<string, ActorRef<LeaseMsg>>();
  private readonly tokens = new Map<string, NodePrincipal>();

  add(principal: NodePrincipal, lease: ActorRef<LeaseMsg>): string {
    this.leases.set(principal.nodeId, lease);
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, principal);
    return token;
  }

  remove(nodeId: string): void {
    this.leases.delete(nodeId);
    for (const [token, principal] of this.tokens) if (principal.nodeId === nodeId) this.tokens.delete(token);
  }

  lease(nodeId: string): ActorRef<LeaseMsg> | undefined {
    return this.leases.get(nodeId);
  }

  /** The node a registration token belongs to; the token is spent. Throws for an unknown token. */
  redeem(token: string | undefined): NodePrincipal {
    const principal = token === undefined ? undefined : this.tokens.get(token);
    if (!principal) throw new Error('unknown or already used node token');
    this.tokens.delete(token!);
    return principal;
  }
}
