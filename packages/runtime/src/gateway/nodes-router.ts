import { spawnActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { AgentMsg, NodesWireMsg } from '@lzy/node-agent/protocol';
import type { AllocatorMsg } from '../allocator/allocator.js';
import type { NodeDirectory, NodePrincipal } from '../allocator/node-directory.js';
import type { SchedulerMsg } from '../scheduler/scheduler.js';

/** A message from a node-agent with the identity its connection proved. */
export type NodesRouterMsg = { type: 'from-node'; node: NodePrincipal; agent: ActorRef<AgentMsg>; msg: NodesWireMsg };

/**
 * Routes what node-agents send: registration and heartbeats to their lease, attempts to the
 * scheduler. A static pool's node that no lease holds yet offers itself to its pool when it
 * registers, and its heartbeats go to the pool.
 */
export function spawnNodesRouter(
  parent: Parent,
  deps: { directory: NodeDirectory; scheduler: ActorRef<SchedulerMsg>; allocator: () => ActorRef<AllocatorMsg> },
) {
  return spawnActor<undefined, NodesRouterMsg>(parent, {
    name: 'nodes',
    initialState: () => undefined,
    supervision: 'resume',
    receive: (state, { node, agent, msg }) => {
      switch (msg.type) {
        case 'register': {
          const lease = deps.directory.lease(node.nodeId);
          if (lease) tell(lease, { type: 'registered', slots: msg.slots, agent });
          else if (node.joined && node.tenant === undefined) {
            tell(deps.allocator(), { type: 'offer', node: { principal: node, slots: msg.slots, agent } });
          }
          return state;
        }
        case 'heartbeat': {
          const lease = deps.directory.lease(node.nodeId);
          if (lease) tell(lease, { type: 'heartbeat', agent, running: msg.running });
          else if (node.joined) tell(deps.allocator(), { type: 'free-heartbeat', pool: node.pool, nodeId: node.nodeId, agent });
          return state;
        }
        case 'report':
          tell(deps.scheduler, { type: 'report', nodeId: node.nodeId, logs: msg.logs, finished: msg.finished });
          return state;
      }
    },
  });
}
