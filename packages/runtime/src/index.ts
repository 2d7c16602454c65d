export { Runtime } from './runtime.js';
export type { RuntimeOptions, PoolConfig } from './config.js';
export { defaultPool } from './config.js';
export { RuntimeError, type RuntimeConnection } from './client.js';
export type { OpSpec, ArgSpec, CacheSpec, CacheMiss, OpInfo, OpState, WorkflowEvent, WorkflowStatus, OpCounts } from './protocol/client.js';
export type { WorkflowInfo, WorkflowDetail } from './protocol/gateway.js';
export type { Subject } from './iam/iam.js';
export { agentOutput } from './allocator/local-backend.js';
