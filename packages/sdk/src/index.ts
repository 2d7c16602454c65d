export { op, OP, type Op, type OpArgs, type OpDefinition } from './op.js';
export { Lazy } from './lazy.js';
export { Lzy, type LzyStartOptions, type WorkflowOptions } from './lzy.js';
export type { WorkflowHandle, OpLogLine } from './workflow-run.js';
export { OpError, WorkflowCancelledError, OpDefinitionError } from './errors.js';
export type { OpOptions } from './options.js';
