import { randomBytes } from 'node:crypto';
import type { ActorRef } from '@lzy/actors';
import { newId } from '../ids.js';
import type { LeaseMsg } from './lease.js';

/**
 * The identity a node-agent proves in its handshake, set by the gateway, never by a message: with
 * its one-time token (a node the runtime started for a tenant) or with a static pool's join token
 * (a fresh node of that pool, whose tenant is set once, when the pool leases it).
 */
export interface NodePrincipal {
  readonly kind: 'node';
  readonly nodeId: string;
  /** The one tenant the node serves; undefined while a joined node is free. */
  readonly tenant: string | undefined;
  readonly pool: string;
  /** Whether the node joined a static pool. */
  readonly joined: boolean;
  /**
   * When the connection proved itself with the node's worker token (see `WorkerTokens`): until
   * when that token is good (ms since the epoch). Absent while it holds its first credential.
   */
  readonly workerTokenExpiresAt?: number;
}

/**
 * The leases of the runtime by node id, and the one-time registration tokens that let a
 * node-agent connect: a token is good for one connection of the node it was issued for. A lease
 * stops being `live` the moment it is released, before its node is gone: from then on the
 * worker tokens of its node are refused.
 */
export class NodeDirectory {
  private readonly leases = new Map<string, ActorRef<LeaseMsg>>();
  private readonly released = new Set<string>();
  private readonly tokens = new Map<string, NodePrincipal>();
  /** Whether the connection of each node is open, as the gateway sees it (the last one, after a re-join). */
  private readonly links = new WeakMap<NodePrincipal, () => boolean>();

  add(principal: NodePrincipal, lease: ActorRef<LeaseMsg>): string {
    this.leases.set(principal.nodeId, lease);
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, principal);
    return token;
  }

  /** The identity of an agent that joined the static pool `pool`: a new node, free until leased. */
  join(pool: string): NodePrincipal {
    return { kind: 'node', nodeId: newId('node'), tenant: undefined, pool, joined: true };
  }

  /** Records how to tell whether the connection of the node `node` is still open. */
  link(node: NodePrincipal, open: () => boolean): void {
    this.links.set(node, open);
  }

  /** Whether the node `node` is still connected; a pool leases no joined node that has left. */
  connected(node: NodePrincipal): boolean {
    return this.links.get(node)?.() ?? false;
  }

  /** Leases the free joined node `node` to `tenant`, for good: its connection serves that tenant only. */
  attach(node: NodePrincipal, tenant: string, lease: ActorRef<LeaseMsg>): void {
    if (!node.joined || node.tenant !== undefined) throw new Error(`node ${node.nodeId} is not a free joined node`);
    (node as { tenant: string | undefined }).tenant = tenant;
    this.leases.set(node.nodeId, lease);
  }

  /** The lease of the node `nodeId` was released or lost: its worker tokens stop working now. */
  release(nodeId: string): void {
    if (this.leases.has(nodeId)) this.released.add(nodeId);
  }

  /** Whether the node `nodeId` is held by a lease not released: only then do its worker tokens work. */
  live(nodeId: string): boolean {
    return this.leases.has(nodeId) && !this.released.has(nodeId);
  }

  remove(nodeId: string): void {
    this.leases.delete(nodeId);
    this.released.delete(nodeId);
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
