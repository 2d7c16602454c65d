import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { compileChecker } from '@lzy/actors';
import { defaultPool, type PoolConfig } from '@lzy/runtime';
import { usageError } from './cli-error.js';

const Positive = Type.Number({ exclusiveMinimum: 0 });
const PoolEntry = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }),
    kind: Type.Optional(Type.Union([Type.Literal('local'), Type.Literal('static'), Type.Literal('kubernetes')])),
    cpu: Type.Optional(Positive),
    memoryMb: Type.Optional(Type.Integer({ minimum: 16 })),
    slots: Type.Optional(Type.Integer({ minimum: 1 })),
    maxNodes: Type.Optional(Type.Integer({ minimum: 1 })),
    idleTimeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
const PoolsFile = Type.Array(PoolEntry, { minItems: 1 });
const checker = compileChecker(PoolsFile);

/**
 * Reads a pools config file: a JSON array of pools, e.g. `[{ "name": "default", "slots": 4,
 * "maxNodes": 2 }, { "name": "big", "cpu": 8, "memoryMb": 16384 }]`; what a pool leaves out is
 * taken from the default pool. The first pool is where ops without a `pool` option run. A pool of
 * `"kind": "static"` has the nodes that `lzy agent --pool NAME` processes join it with; one of
 * `"kind": "kubernetes"` leases the cluster's nodes labelled `lzy.dev/pool=NAME` (see `lzy server --kubeconfig`).
 */
export function readPoolsFile(path: string): PoolConfig[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw usageError(`cannot read the pools file ${path}: ${(error as Error).message}`, 'pass --pools FILE with a JSON array of pools');
  }
  if (!checker.check(value)) {
    throw usageError(
      `the pools file ${path} is not valid at ${checker.explain(value)}`,
      'each pool is { "name", "kind"?: "local" | "static" | "kubernetes", "cpu"?, "memoryMb"?, "slots"?, "maxNodes"?, "idleTimeoutMs"? }',
    );
  }
  return value.map((pool) => ({ ...defaultPool, ...pool }));
}
