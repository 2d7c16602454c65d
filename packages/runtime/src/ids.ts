import { randomBytes } from 'node:crypto';

/** Random per process, so ids of this process never collide with those of an earlier run. */
const processPart = randomBytes(6).toString('hex');
let counter = 0;

/** A unique id with a readable prefix, e.g. `wf-3f9a0c1b2d4e-17`: cheap enough for one per attempt. */
export function newId(prefix: string): string {
  return `${prefix}-${processPart}-${(++counter).toString(36)}`;
}
