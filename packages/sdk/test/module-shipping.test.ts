// The SDK ships op modules: each is bundled with what it imports and stored by hash, and nodes run
// the bundle, so an op runs even when its module exists only on the client's disk.
import fs, { mkdirSync, rmSync, symlinkSync, writeFileSync, type PathLike, type StatSyncOptions } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { Runtime, type RuntimeConnection } from '@lzy/runtime';
import type { StoredRef } from '@lzy/node-agent/protocol';
import { bundleBuilt } from '../src/bundle.js';
import { Lzy, OpDefinitionError, OpError, type Op } from '../src/index.js';
import { tempDir, waitUntil } from './harness.js';

type Test = { teardown(fn: () => unknown): void };

const sdkRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A project on the client's disk, outside the repository: an op module, a helper file it imports,
 * and an npm package (CommonJS, requiring a builtin) in its own node_modules. `@lzy/sdk` is linked.
 */
function writeProject(t: Test, ops: string): { dir: string; module: string } {
  const dir = tempDir(t, 'lzy-project-');
  mkdirSync(join(dir, 'node_modules', '@lzy'), { recursive: true });
  symlinkSync(sdkRoot, join(dir, 'node_modules', '@lzy', 'sdk'));
  mkdirSync(join(dir, 'node_modules', 'greeter'));
  writeFileSync(join(dir, 'node_modules', 'greeter', 'package.json'), JSON.stringify({ name: 'greeter', main: 'index.js' }));
  writeFileSync(join(dir, 'node_modules', 'greeter', 'index.js'), "const { sep } = require('node:path');\nexports.greet = (name) => `hello ${name}${sep}`;\n");
  writeFileSync(join(dir, 'helper.mjs'), 'export const twice = (n) => n * 2;\n');
  writeFileSync(join(dir, 'ops.mjs'), ops);
  return { dir, module: pathToFileURL(join(dir, 'ops.mjs')).href };
}

const OPS = `import { op } from '@lzy/sdk';
import { greet } from 'greeter';
import { twice } from './helper.mjs';

export const where = op({}, async (n) => ({ value: twice(n), greeting: greet('lzy'), url: import.meta.url, cwd: process.cwd() }));
export const version = op({}, async () => 'v1');
export const fails = op({}, async (message) => {
  throw new RangeError(message);
});
`;

/** The line of `text` in OPS, from 1. */
function lineOf(text: string): number {
  return OPS.split('\n').findIndex((line) => line.includes(text)) + 1;
}

/**
 * A runtime, and a client of it as `tenant` whose connection has the methods `overrides` returns
 * in place of its own; both closed at teardown.
 */
async function start(
  t: Test,
  options: { tenant?: string; overrides?: (connection: RuntimeConnection, runtime: Runtime) => Promise<Partial<RuntimeConnection>> } = {},
) {
  const dataDir = tempDir(t);
  const runtime = await Runtime.start({
    dataDir,
    pools: [{ name: 'default', cpu: 2, memoryMb: 2048, slots: 1, maxNodes: 1, idleTimeoutMs: 60_000 }],
  });
  t.teardown(() => runtime.close());
  const connection = runtime.connect(await runtime.iam.issueToken(options.tenant ?? 'local', 'admin'));
  const overrides = (await options.overrides?.(connection, runtime)) ?? {};
  const proxy = new Proxy(connection, {
    get: (target, key) => {
      if (key in overrides) return overrides[key as keyof RuntimeConnection];
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const lzy = Lzy.over(proxy, { onLog: () => {} });
  t.teardown(() => lzy.close());
  return { lzy, dataDir };
}

/** Records the bundles built while the test runs. */
function bundlesBuilt(t: Test): Array<{ module: string; hash: string; bytes: number; ms: number }> {
  const built: Array<{ module: string; hash: string; bytes: number; ms: number }> = [];
  const listen = (message: unknown) => built.push(message as (typeof built)[number]);
  bundleBuilt.subscribe(listen);
  t.teardown(() => bundleBuilt.unsubscribe(listen));
  return built;
}

t.test('an op whose module exists only on the client runs on a node from its shipped bundle', async (t) => {
  const { dir, module } = writeProject(t, OPS);
  const { where } = (await import(module)) as { where: Op<[number], { value: number; greeting: string; url: string; cwd: string }> };
  const built = bundlesBuilt(t);
  // The module's directory is gone once the graph is submitted (bundled and stored before): the
  // node can only run what the client shipped.
  const { lzy, dataDir } = await start(t, {
    overrides: async (connection) => ({
      submit: (workflowId, ops) => {
        rmSync(dir, { recursive: true, force: true });
        return connection.submit(workflowId, ops);
      },
    }),
  });
  const result = await lzy.workflow('shipped', () => where(21));
  t.equal(result.value, 42, 'the relative import was shipped');
  t.equal(result.greeting, 'hello lzy/', 'the npm package, and the builtin it requires, work in the bundle');
  t.equal(built.length, 1, 'the module was bundled once');
  t.equal(built[0]!.module, module);
  t.equal(result.url, pathToFileURL(join(dataDir, 'nodes', result.url.split('/').at(-2)!, `${built[0]!.hash}.mjs`)).href, "the node ran the bundle from its cache, named by the bundle's hash");
  t.not(result.cwd, dir, 'the node works in another directory');
});

t.test('an edited op module is bundled again, and the next call runs the new code', async (t) => {
  const { dir, module } = writeProject(t, OPS);
  const { version } = (await import(module)) as { version: Op<[], string> };
  const built = bundlesBuilt(t);
  const { lzy } = await start(t);
  t.equal(await lzy.workflow('v1', () => version()), 'v1');
  t.equal(await lzy.workflow('v1 again', () => version()), 'v1');
  t.equal(built.length, 1, 'an unchanged module is not bundled again');

  writeFileSync(join(dir, 'ops.mjs'), OPS.replace("'v1'", "'v2'"));
  t.equal(await lzy.workflow('v2', () => version()), 'v2');
  t.equal(built.length, 2, 'the edited module was bundled again');
  t.not(built[1]!.hash, built[0]!.hash, 'into a new bundle');

  writeFileSync(join(dir, 'helper.mjs'), 'export const twice = (n) => n * 3;\n');
  t.equal(await lzy.workflow('helper edited', () => version()), 'v2');
  t.equal(built.length, 3, 'an edited file the module imports makes a new bundle too');
});

t.test('an op module that does not bundle fails the call with an OpDefinitionError naming the module and the fix', async (t) => {
  const { dir, module } = writeProject(t, OPS);
  const { version } = (await import(module)) as { version: Op<[], string> };
  const { lzy } = await start(t);

  writeFileSync(join(dir, 'ops.mjs'), `${OPS}\nexport const broken = op({}, async () => {;\n`);
  const syntax = await lzy.workflow('syntax error', () => version()).catch((error: unknown) => error);
  t.type(syntax, OpDefinitionError);
  t.match((syntax as Error).message, `op module ${module} cannot be bundled for the nodes: ${fileURLToPath(module)}:`);
  t.match((syntax as Error).message, /Fix: .*fix the syntax/);

  writeFileSync(join(dir, 'ops.mjs'), `import './gone.mjs';\n${OPS}`);
  const missing = await lzy.workflow('missing import', () => version()).catch((error: unknown) => error);
  t.type(missing, OpDefinitionError);
  t.match((missing as Error).message, /cannot be bundled for the nodes: .*Could not resolve "\.\/gone\.mjs"/);

  writeFileSync(join(dir, 'ops.mjs'), OPS);
  t.equal(await lzy.workflow('fixed', () => version()), 'v1', 'once fixed, the module ships again');
});

t.test("an op's error stack names the original module file and line, not the bundle", async (t) => {
  const { module } = writeProject(t, OPS);
  const { fails } = (await import(module)) as { fails: Op<[string], never> };
  const { lzy } = await start(t);
  const error = await lzy.workflow('fails', () => fails('out of range')).catch((e: unknown) => e);
  t.type(error, OpError);
  t.match((error as OpError).remoteStack, /^RangeError: out of range\n\s+at /);
  t.match((error as OpError).remoteStack, `(${fileURLToPath(module)}:${lineOf('throw new RangeError')}:`, 'the top frame is the throw in the original file');
});

t.test("ops run only bundles of their own tenant: a submission naming another tenant's bundle is refused, as a blob it does not have", async (t) => {
  const { module } = writeProject(t, OPS);
  const { version } = (await import(module)) as { version: Op<[], string> };
  // Bob's client puts its bundle in alice's storage, as if its ops named a bundle alice shipped.
  const put: Array<{ ref: StoredRef; bytes: Buffer }> = [];
  let alice: RuntimeConnection | undefined;
  const { lzy: bob } = await start(t, {
    tenant: 'bob',
    overrides: async (_, runtime) => {
      alice = runtime.connect(await runtime.iam.issueToken('alice'));
      return {
        putBlob: async (workflowId, bytes) => {
          const ref = await alice!.putBlob(workflowId, bytes);
          put.push({ ref, bytes });
          return ref;
        },
      };
    },
  });
  const error = await bob.workflow('borrowed', () => version()).catch((e: unknown) => e);
  t.equal(put.length, 2, 'the bundle was put in storage, and put again once after the first refusal');
  t.same(await alice!.getBlob(put[0]!.ref), put[0]!.bytes, 'alice, who owns the blob, reads it');
  t.match(error, { code: 'BLOB_EXPIRED' });
  t.match((error as Error).message, `no longer stored (the temporary storage of the runs that stored them expired, or they never were): ${put[0]!.ref.uri}`);
});

t.test('a shipped bundle stays small: the SDK brings only what op() needs', async (t) => {
  const { module } = writeProject(t, OPS);
  await import(module);
  const built = bundlesBuilt(t);
  const { bundleModule } = await import('../src/bundle.js');
  const { bytes } = await bundleModule(module);
  const text = bytes.toString('utf8');
  t.notMatch(text, /msgpackr|typebox|@lzy\/runtime|esbuild/, 'no codec, schema, runtime or bundler code');
  t.ok(bytes.length < 64 * 1024, `${bytes.length} bytes`);
  t.comment(`bundle of the test module: ${bytes.length} bytes, built in ${built[0]?.ms.toFixed(0) ?? '?'} ms`);
});

t.test("a warm call stats none of the files of another local package the module imports (they are watched), and an edit of one is still shipped", async (t) => {
  // A workspace: the project imports `mylib`, a package of its own outside it, linked into its node_modules.
  const { dir, module } = writeProject(
    t,
    `import { op } from '@lzy/sdk';
import { label } from 'mylib';
export const labelled = op({}, async () => label);
`,
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'project', type: 'module' }));
  const lib = tempDir(t, 'lzy-lib-');
  writeFileSync(join(lib, 'package.json'), JSON.stringify({ name: 'mylib', type: 'module', main: 'index.js' }));
  writeFileSync(join(lib, 'index.js'), "export const label = 'v1';\n");
  symlinkSync(lib, join(dir, 'node_modules', 'mylib'));
  const { labelled } = (await import(module)) as { labelled: Op<[], string> };
  const built = bundlesBuilt(t);
  const { lzy } = await start(t);
  t.equal(await lzy.workflow('first', () => labelled()), 'v1');

  const statted: string[] = [];
  // Node's builtin modules can be patched for ES imports too (syncBuiltinESMExports).
  const patchable = fs as { statSync: typeof fs.statSync };
  const statSync = fs.statSync;
  patchable.statSync = ((path: PathLike, options?: StatSyncOptions) => {
    statted.push(String(path));
    return statSync(path, options);
  }) as typeof fs.statSync;
  syncBuiltinESMExports();
  try {
    for (let i = 0; i < 3; i++) t.equal(await lzy.workflow('warm', () => labelled()), 'v1');
  } finally {
    patchable.statSync = statSync;
    syncBuiltinESMExports();
  }
  t.same(statted.filter((path) => path.startsWith(lib)), [], "no file of the other package was stat'd");
  t.ok(statted.some((path) => path === join(dir, 'ops.mjs')), "the module's own files still were");
  t.equal(built.length, 1, 'nor was anything bundled again');

  writeFileSync(join(lib, 'index.js'), "export const label = 'v2';\n");
  await waitUntil(async () => (await lzy.workflow('edited', () => labelled())) === 'v2', 'a call to run the edited package', 30_000);
  t.equal(built.length, 2, 'the edit made one new bundle');
});
