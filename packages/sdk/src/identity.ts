import { OpDefinitionError } from './errors.js';
import { OP, type Op } from './op.js';

/** Where a node-agent finds an op: its module and the name it is exported under. */
export interface OpIdentity {
  readonly module: string;
  readonly exportName: string;
}

const known = new WeakMap<object, Promise<OpIdentity>>();

/** Finds the export of `op` in the module that defined it; rejects with the fix when there is none. */
export function identityOf(op: Op<unknown[], unknown>): Promise<OpIdentity> {
  let identity = known.get(op);
  if (!identity) {
    identity = find(op);
    known.set(op, identity);
  }
  return identity;
}

async function find(op: Op<unknown[], unknown>): Promise<OpIdentity> {
  const { module, site } = op[OP];
  if (!module) {
    throw new OpDefinitionError(`the op defined at ${site} is not in a module file; define ops in a module and export them`);
  }
  const namespace = (await import(module)) as Record<string, unknown>;
  for (const [exportName, value] of Object.entries(namespace)) {
    if (value === op) return { module, exportName };
  }
  throw new OpDefinitionError(
    `the op defined at ${site} is not exported from ${module}; export it (export const name = op(...)) so node-agents can import it`,
  );
}
