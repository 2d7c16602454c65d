import { Type, type Static } from '@sinclair/typebox';

/** Largest op-module bundle the SDK ships and an agent fetches. */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

/**
 * Where the code of an op lives when it is shipped: its module bundled with everything it imports
 * into one ES module file, stored in the tenant's storage at `uri` and named by the sha256 of its
 * bytes (`hash`), which the agent checks before it runs a line of it.
 */
export const BundleRef = Type.Object(
  {
    uri: Type.String({ maxLength: 2048 }),
    hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    size: Type.Integer({ minimum: 1, maximum: MAX_BUNDLE_BYTES }),
  },
  { additionalProperties: false },
);
export type BundleRef = Static<typeof BundleRef>;
