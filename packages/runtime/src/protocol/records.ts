import { Type, type Static } from '@sinclair/typebox';
import { DataRef } from '@lzy/node-agent/protocol';
import { ArgSpec, WorkflowStatus } from './client.js';

const Id = Type.String({ minLength: 1, maxLength: 256 });
const Time = Type.Integer({ minimum: 0 });
const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 32 });

/** Most fields one whiteboard may have. */
export const MAX_WHITEBOARD_FIELDS = 1024;

/**
 * One field of a whiteboard, assigned once while its workflow runs: a stored value, or the result
 * of an op of the same workflow. The whiteboard is named by its first field's name and tags.
 */
export const WhiteboardField = Type.Object(
  {
    whiteboardId: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.String({ minLength: 1, maxLength: 256 }),
    tags: Tags,
    /** When the workflow created the whiteboard (ms since the epoch). */
    createdAt: Time,
    field: Type.String({ minLength: 1, maxLength: 256 }),
    value: ArgSpec,
  },
  { additionalProperties: false },
);
export type WhiteboardField = Static<typeof WhiteboardField>;

/** Which whiteboards to find: every given condition holds; `tags`: it has all of them. */
export const WhiteboardQuery = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    tags: Type.Optional(Tags),
    /** Created at or after (ms since the epoch). */
    since: Type.Optional(Time),
    /** Created before (ms since the epoch). */
    until: Type.Optional(Time),
  },
  { additionalProperties: false },
);
export type WhiteboardQuery = Static<typeof WhiteboardQuery>;

/** A finalized whiteboard: the fields of one workflow run that succeeded, each a stored value. */
export const WhiteboardRecord = Type.Object({
  id: Type.String(),
  name: Type.String(),
  tags: Type.Array(Type.String()),
  workflowId: Type.String(),
  workflowName: Type.String(),
  createdAt: Time,
  /** When its workflow succeeded and its fields were fixed. */
  finalizedAt: Time,
  fields: Type.Record(Type.String(), DataRef),
});
export type WhiteboardRecord = Static<typeof WhiteboardRecord>;

/** One chunk of an op's output as the runtime keeps it. */
export const LogEntry = Type.Object({
  /** Position in the workflow's log, from 1. */
  seq: Type.Integer({ minimum: 1 }),
  /** When the runtime received it (ms since the epoch). */
  at: Time,
  opId: Id,
  opName: Type.String(),
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  text: Type.String(),
});
export type LogEntry = Static<typeof LogEntry>;

/** Entries of a workflow's log after some position, and whether more may come. */
export const LogPage = Type.Object({ entries: Type.Array(LogEntry), status: WorkflowStatus });
export type LogPage = Static<typeof LogPage>;
