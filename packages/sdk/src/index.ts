export { op, OP, type Op, type OpArgs, type OpDefinition } from './op.js';
export { Lazy } from './lazy.js';
export { Lzy, formatOpLog, type LzyStartOptions, type LzyConnectOptions, type WorkflowOptions } from './lzy.js';
export { RemoteConnection, type RemoteOptions } from './remote-connection.js';
export type { WorkflowHandle, OpLogLine } from './workflow-run.js';
export { OpError, WorkflowCancelledError, OpDefinitionError, DataDirInUseError } from './errors.js';
export { openLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from './local-runtime.js';
export type { OpOptions } from './options.js';
export { WhiteboardError, readWhiteboards, type Whiteboard, type StoredWhiteboard, type WhiteboardFilter } from './whiteboard.js';
