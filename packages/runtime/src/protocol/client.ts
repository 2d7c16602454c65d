import { Type, type Static } from '@sinclair/typebox';
import { DataRef, OpFailure } from '@lzy/node-agent/protocol';

/**
 * What a client (the SDK) submits: the calls of a workflow, as a graph. Each op names the module
 * and export that define it; its args are values (refs) or results of other ops of the workflow.
 */
export const ArgSpec = Type.Union([
  Type.Object({ kind: Type.Literal('value'), ref: DataRef }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('op'), opId: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
]);
export type ArgSpec = Static<typeof ArgSpec>;

export const OpSpec = Type.Object(
  {
    /** Unique in the workflow; the SDK derives it from the call, so identical calls share it. */
    id: Type.String({ minLength: 1, maxLength: 256 }),
    /** Human name for logs and errors: the export name. */
    name: Type.String({ minLength: 1, maxLength: 512 }),
    module: Type.String({ minLength: 1, maxLength: 4096 }),
    exportName: Type.String({ minLength: 1, maxLength: 512 }),
    args: Type.Array(ArgSpec, { maxItems: 1024 }),
    pool: Type.Optional(Type.String({ maxLength: 128 })),
    cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    memoryMb: Type.Optional(Type.Integer({ minimum: 16 })),
    retries: Type.Object({ max: Type.Integer({ minimum: 0, maximum: 100 }), backoffMs: Type.Integer({ minimum: 0 }) }),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
    env: Type.Record(Type.String(), Type.String()),
    /** Present when the op is cached: the cache key adds the inputs' hashes at run time. */
    cache: Type.Optional(Type.Object({ version: Type.String({ maxLength: 256 }), codeHash: Type.String({ maxLength: 128 }) })),
  },
  { additionalProperties: false },
);
export type OpSpec = Static<typeof OpSpec>;

/** What a workflow tells its watcher as it runs. */
export type WorkflowEvent =
  | { type: 'op-succeeded'; workflowId: string; opId: string; result: DataRef; cached: boolean }
  | { type: 'op-failed'; workflowId: string; opId: string; opName: string; attempt: number; failure: OpFailure }
  | { type: 'op-log'; workflowId: string; opId: string; opName: string; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'op-retrying'; workflowId: string; opId: string; opName: string; attempt: number; failure: OpFailure; delayMs: number }
  | { type: 'progress'; workflowId: string; counts: OpCounts }
  | { type: 'workflow-ended'; workflowId: string; status: WorkflowStatus; reason?: string };

/** Events of one workflow that happened together, in order: what a watcher actor receives. */
export type WorkflowEvents = WorkflowEvent[];

/** How many ops of a workflow are in each state. */
export interface OpCounts {
  waiting: number;
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

export type WorkflowStatus = 'active' | 'finished' | 'failed' | 'cancelled';
