import type { RunAttempt } from '@lzy/node-agent/protocol';
import type { NodePrincipal } from '../allocator/node-directory.js';
import { RuntimeError } from '../protocol/errors.js';

/** What one attempt given to a node lets that node do in storage. */
interface Grant {
  readonly nodeId: string;
  /** The run the attempt belongs to: its outputs are values of that run. */
  readonly workflowId: string;
  /** The blobs it may read: the attempt's bundle and its stored inputs. */
  readonly reads: readonly string[];
}

/**
 * What each node may do in storage: read the bundles and stored inputs of the attempts it was
 * given, and write blobs as the outputs of those attempts, for as long as they run there. The
 * scheduler gives a grant before it sends an attempt to its node and ends it when the attempt ends
 * (finished, failed, cancelled, or its node lost or released); the storage service checks every
 * node request here, so nothing else decides what a node may touch.
 */
export class AttemptGrants {
  /** By attempt id. */
  private readonly grants = new Map<string, Grant>();
  /** By node id: each readable blob URI and how many of the node's attempts read it. */
  private readonly readable = new Map<string, Map<string, number>>();

  /** @param ended told of each attempt whose grant ends (storage gives up the uploads it left open) */
  constructor(private readonly ended: (attemptId: string) => void = () => {}) {}

  /** `nodeId` runs `attempt` of run `workflowId` from now on: it may read the attempt's bundle and inputs and write its outputs. */
  give(nodeId: string, attempt: RunAttempt, workflowId: string): void {
    this.end(attempt.attemptId);
    const reads: string[] = [];
    if (attempt.bundle) reads.push(attempt.bundle.uri);
    for (const arg of attempt.args) if (arg.inline === undefined && arg.uri !== undefined) reads.push(arg.uri);
    this.grants.set(attempt.attemptId, { nodeId, workflowId, reads });
    let counts = this.readable.get(nodeId);
    if (!counts) this.readable.set(nodeId, (counts = new Map()));
    for (const uri of reads) counts.set(uri, (counts.get(uri) ?? 0) + 1);
  }

  /** The attempt no longer runs on its node: what it granted ends. */
  end(attemptId: string): void {
    const grant = this.grants.get(attemptId);
    if (!grant) return;
    this.grants.delete(attemptId);
    const counts = this.readable.get(grant.nodeId)!;
    for (const uri of grant.reads) {
      const left = counts.get(uri)! - 1;
      if (left > 0) counts.set(uri, left);
      else counts.delete(uri);
    }
    if (counts.size === 0) this.readable.delete(grant.nodeId);
    this.ended(attemptId);
  }

  /** Throws `FORBIDDEN` unless `uri` is the bundle or a stored input of an attempt running on `node`. */
  checkRead(node: NodePrincipal, uri: string): void {
    if (this.readable.get(node.nodeId)?.has(uri)) return;
    throw new RuntimeError('FORBIDDEN', `node ${node.nodeId} may not read blob ${uri}: it is not an input of its attempts`);
  }

  /** The run of attempt `attemptId`; throws `FORBIDDEN` unless that attempt is running on `node`. */
  checkWrite(node: NodePrincipal, attemptId: string): string {
    const grant = this.grants.get(attemptId);
    if (grant?.nodeId === node.nodeId) return grant.workflowId;
    throw new RuntimeError('FORBIDDEN', `node ${node.nodeId} may not write as attempt ${attemptId}: it is not running that attempt`);
  }
}
