import { Type, type Static } from '@sinclair/typebox';

/** Why an op attempt failed, in a form that crosses processes (the user's stack survives). */
export const OpFailure = Type.Object(
  {
    /** `USER_ERROR` (the op threw), `TIMEOUT`, `CANCELLED`, `OUT_OF_MEMORY`, `PROCESS_EXITED`, `NODE_LOST`, `BAD_OP`, `WRONG_TENANT` (another tenant's attempt, refused). */
    code: Type.String({ maxLength: 64 }),
    name: Type.String({ maxLength: 256 }),
    message: Type.String(),
    stack: Type.Optional(Type.String()),
    /** False when retrying cannot help (e.g. the op's module or export does not exist). */
    retryable: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type OpFailure = Static<typeof OpFailure>;
