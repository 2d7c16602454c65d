import { createRequire } from 'node:module';

/** A live actor inside nact: what a reference resolves to while the actor runs. */
export interface ConcreteActor {
  dispatch(message: unknown, sender?: unknown): void;
}

/** A nact reference as it looks at run time. */
export interface NactRef {
  system: { name: string };
  path?: { parts: string[]; toString(): string };
  id?: number;
  type: string;
}

const systemMap = createRequire(import.meta.url)('nact/lib/system-map') as {
  find(systemName: string, ref: unknown): ConcreteActor | undefined;
};

/**
 * Resolves a reference to its running actor, or undefined once it stopped. nact's public
 * `dispatch` drops messages to stopped actors without a word; this lets us notice.
 */
export function findActor(ref: NactRef): ConcreteActor | undefined {
  return systemMap.find(ref.system.name, ref);
}
