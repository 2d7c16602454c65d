// The ops of the runtime bench. Node-agents import this module (by its URL) to run them, so the
// ops are exported from here and nothing else happens at import time. Their bodies do nothing:
// the bench measures the path around them.
import { op } from '@lzy/sdk';

/** Returns its argument: the no-op of ops-throughput and op-latency. */
export const noop = op({}, async (i: number) => i);

/**
 * Returns `i` and ignores its inputs: a DAG node of dag-10k/dag-100k. The inputs (results of other
 * ops) make the graph's edges; `i` is unique per call, so no two calls are the same node.
 */
export const after = op({}, async (i: number, ..._inputs: number[]) => i);

/** Which node-agent ran it (the runner's parent process): the warm-up runs until both agents have. */
export const agentOf = op({}, async (i: number) => ({ i, agent: process.ppid }));
