import { randomBytes } from 'node:crypto';

/** A random id with a readable prefix, e.g. `wf-3f9a0c1b2d4e`. */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(8).toString('hex')}`;
}
