import { pathToFileURL } from 'node:url';
import { currentRun } from './context.js';
import { Lazy } from './lazy.js';
import { resolveOpOptions, type OpOptions, type ResolvedOpOptions } from './options.js';

/** The marker the node-agent looks for on an exported op: `{ fn }` is the body it runs. */
export const OP = Symbol.for('lzy.op');

/** Everything known about an op when it is defined. */
export interface OpDefinition {
  readonly fn: (...args: never[]) => unknown;
  readonly options: ResolvedOpOptions;
  /** URL of the module that called `op(...)`, where the export is looked for. */
  readonly module: string | undefined;
  /** Where `op(...)` was called: `file:line:col`, stable across runs of the same code. */
  readonly site: string;
}

/** Each argument may be a plain value or the `Lazy` result of another op. */
export type OpArgs<A extends unknown[]> = { [K in keyof A]: A[K] | Lazy<A[K]> };

/** A callable op: inside a workflow a call returns a `Lazy`; outside, it runs locally. */
export type Op<A extends unknown[], R> = ((...args: OpArgs<A>) => Lazy<Awaited<R>>) & { readonly [OP]: OpDefinition };

/**
 * Defines an operation. Export the result from its module (`export const f = op(...)`): the
 * module URL and export name are the op's identity, and node-agents import it from there.
 */
export function op<A extends unknown[], R>(options: OpOptions, fn: (...args: A) => R): Op<A, R> {
  if (typeof fn !== 'function') throw new TypeError('op(options, fn): fn must be a function');
  const site = callerSite();
  const definition: OpDefinition = {
    fn: fn as OpDefinition['fn'],
    options: resolveOpOptions(options),
    module: site.module,
    site: site.text,
  };
  const callable = (...args: OpArgs<A>): Lazy<Awaited<R>> => {
    const run = currentRun();
    if (run) return run.call(callable as unknown as Op<unknown[], unknown>, args) as Lazy<Awaited<R>>;
    const local = async (): Promise<Awaited<R>> => {
      const values = await Promise.all(args.map((arg) => (arg instanceof Lazy ? arg : Promise.resolve(arg))));
      return (await fn(...(values as A))) as Awaited<R>;
    };
    return Lazy.local(local);
  };
  Object.defineProperty(callable, OP, { value: definition });
  return callable as Op<A, R>;
}

/** The module and position of the code that called `op(...)`. */
function callerSite(): { module: string | undefined; text: string } {
  const original = Error.prepareStackTrace;
  let frame: NodeJS.CallSite | undefined;
  try {
    Error.prepareStackTrace = (_, stack) => stack;
    const stack = new Error().stack as unknown as NodeJS.CallSite[];
    // [0] callerSite, [1] op, [2] the module defining the op
    frame = stack[2];
  } finally {
    Error.prepareStackTrace = original;
  }
  const file = frame?.getFileName() ?? undefined;
  const module = file === undefined ? undefined : file.startsWith('file:') ? file : file.startsWith('/') ? pathToFileURL(file).href : undefined;
  return { module, text: `${file ?? '?'}:${frame?.getLineNumber() ?? 0}:${frame?.getColumnNumber() ?? 0}` };
}
