import { createHash } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Message, Plugin } from 'esbuild';
import { MAX_BUNDLE_BYTES } from '@lzy/node-agent/protocol';
import { BundleInputs } from './bundle-inputs.js';
import { OpDefinitionError } from './errors.js';

/** An op module bundled with everything it imports: one ES module file that runs on any node. */
export interface ModuleBundle {
  readonly bytes: Buffer;
  /** sha256 of `bytes`, hex: the bundle's name in storage and on nodes. */
  readonly hash: string;
  /**
   * The code the bundle was built from, for cache keys: each local file it holds by its path
   * relative to the op's module with its content's hash, and each package it bundles as
   * `npm:NAME` with its version, sorted. Unlike `hash`, it stays when the project moves.
   */
  readonly files: Array<[string, string]>;
  /** sha256 of `files`: changes when any of them does, and only then. */
  readonly codeHash: string;
}

/**
 * Publishes `{ module, hash, bytes, ms }` each time a module is bundled (once per module and
 * content per process): how big its bundle is and how long bundling took.
 */
export const bundleBuilt = channel('lzy:sdk:bundle');

/**
 * Packages that are never bundled: the runtime (an op body does not need it; the SDK only loads it
 * to start an embedded runtime). The node resolves it itself if it is used.
 */
const EXTERNAL = ['@lzy/runtime'];

/**
 * Lets bundled CommonJS packages `require` Node's builtins, which esbuild's ESM output cannot do by
 * itself. esbuild renames a top-level `require` of user code, so the two do not clash.
 */
const BANNER = "import { createRequire as __lzyCreateRequire } from 'node:module'; const require = __lzyCreateRequire(import.meta.url);";

interface Entry {
  bundle: Promise<ModuleBundle>;
  /** The local files (not its npm packages) the bundle was built from; none when it did not bundle. */
  inputs: Promise<BundleInputs>;
}

const bundles = new Map<string, Entry>();

/**
 * Modules whose files were checked in this turn of the event loop: every submission of a turn
 * (a burst of workflows) shares one check. Forgotten when the turn ends, so that an edit made
 * between two runs is noticed however soon the second follows. (A watcher of the files could not
 * promise that: its event comes in a later turn than a write the program itself made.)
 */
let checkedThisTurn: Set<string> | undefined;

function checkedOnce(module: string): boolean {
  if (checkedThisTurn?.has(module)) return true;
  if (!checkedThisTurn) {
    checkedThisTurn = new Set();
    setImmediate(() => (checkedThisTurn = undefined));
  }
  checkedThisTurn.add(module);
  return false;
}

/**
 * The bundle of the op module at `module` (a `file:` URL): built once per process, and again
 * only after one of the module's own files changed on disk. A file that is gone keeps the last
 * bundle: it is the code this process runs too. Rejects with an `OpDefinitionError` saying what
 * to fix when the module does not bundle.
 */
export async function bundleModule(module: string): Promise<ModuleBundle> {
  const entry = bundles.get(module);
  if (entry && (checkedOnce(module) || !(await entry.inputs).changed())) return entry.bundle;
  void entry?.inputs.then((inputs) => inputs.close());
  const built = build(module);
  const next: Entry = { bundle: built.then((b) => b.bundle), inputs: built.then((b) => b.inputs, () => BundleInputs.none()) };
  next.bundle.catch(() => bundles.get(module) === next && bundles.delete(module));
  bundles.set(module, next);
  return next.bundle;
}

async function build(module: string): Promise<{ bundle: ModuleBundle; inputs: BundleInputs }> {
  if (!module.startsWith('file:')) {
    throw new OpDefinitionError(`op module ${module} is not a file, so it cannot be shipped to nodes; define ops in a module file`);
  }
  const entry = fileURLToPath(module);
  const started = performance.now();
  const esbuild = await import('esbuild');
  const outdir = dirname(entry);
  const result = await esbuild
    .build({
      entryPoints: [entry],
      outdir,
      outExtension: { '.js': '.mjs' },
      absWorkingDir: outdir,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      metafile: true,
      sourcemap: 'external',
      sourcesContent: false,
      logLevel: 'silent',
      external: EXTERNAL,
      plugins: [fileUrlImports, nativeAddonsExternal],
      banner: { js: BANNER },
    })
    .catch((error: unknown) => {
      const errors = (error as { errors?: Message[] }).errors;
      if (!errors) throw error;
      throw new OpDefinitionError(
        `op module ${module} cannot be bundled for the nodes: ${errors.slice(0, 5).map((message) => describe(message, outdir)).join('; ')}. ` +
          'Fix: the module and everything it imports must load in Node (fix the syntax, install missing packages, correct import paths)',
      );
    });
  const code = result.outputFiles.find((file) => file.path.endsWith('.mjs'))!;
  const map = result.outputFiles.find((file) => file.path.endsWith('.mjs.map'))!;
  const bytes = Buffer.concat([Buffer.from(code.contents), Buffer.from(inlineSourceMap(map.text, outdir))]);
  if (bytes.length > MAX_BUNDLE_BYTES) {
    throw new OpDefinitionError(
      `op module ${module} bundles to ${bytes.length} bytes, more than the ${MAX_BUNDLE_BYTES} a bundle may have. ` +
        'Fix: move what the ops do not need (large data, unrelated imports) out of the module',
    );
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  const paths = Object.keys(result.metafile.inputs).map((input) => resolve(outdir, input));
  const own = paths.filter((path) => !path.includes('/node_modules/'));
  const inputs = BundleInputs.of(entry, own);
  const files = codeFiles(own, paths, outdir);
  const codeHash = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 32);
  if (bundleBuilt.hasSubscribers) bundleBuilt.publish({ module, hash, bytes: bytes.length, ms: performance.now() - started });
  return { bundle: { bytes, hash, files, codeHash }, inputs };
}

/** The bundle's code as `ModuleBundle.files` names it: own files with their hashes, packages with their versions. */
function codeFiles(own: string[], all: string[], moduleDir: string): Array<[string, string]> {
  const files = new Map<string, string>();
  for (const path of own) {
    const content = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    files.set(relative(moduleDir, path) || path, createHash('sha256').update(content).digest('hex').slice(0, 16));
  }
  for (const path of all) {
    const root = packageRoot(path);
    if (root === undefined) continue;
    const name = root.slice(root.lastIndexOf('/node_modules/') + '/node_modules/'.length);
    if (!files.has(`npm:${name}`)) files.set(`npm:${name}`, packageVersion(root));
  }
  return [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The version in a package's manifest, or `?` when it has none. */
function packageVersion(root: string): string {
  try {
    return String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '?');
  } catch {
    return '?';
  }
}

/**
 * The source map as a comment ending the bundle, its sources made absolute `file:` URLs: with
 * `--enable-source-maps` (which runners use) a stack in a bundle names the user's original files
 * and lines, wherever the node keeps the bundle.
 */
function inlineSourceMap(text: string, outdir: string): string {
  const map = JSON.parse(text) as { sources: string[]; sourceRoot?: string };
  map.sources = map.sources.map((source) => pathToFileURL(resolve(outdir, source)).href);
  delete map.sourceRoot;
  return `\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

function describe(message: Message, outdir: string): string {
  const where = message.location ? `${resolve(outdir, message.location.file)}:${message.location.line}:${message.location.column + 1}: ` : '';
  return `${where}${message.text}`;
}

/** Resolves imports of `file:` URLs, which Node takes and esbuild does not. */
const fileUrlImports: Plugin = {
  name: 'lzy-file-url-imports',
  setup(build) {
    build.onResolve({ filter: /^file:/ }, (args) => ({ path: fileURLToPath(args.path) }));
  },
};

/**
 * Leaves packages with a native addon (a `.node` file, which cannot be bundled) out of the bundle,
 * as imports the node resolves itself.
 */
const nativeAddonsExternal: Plugin = {
  name: 'lzy-native-addons-external',
  setup(build) {
    const native = new Map<string, boolean>();
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === nativeAddonsExternal || isBuiltin(args.path)) return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: nativeAddonsExternal });
      const root = resolved.errors.length === 0 ? packageRoot(resolved.path) : undefined;
      if (root === undefined) return undefined;
      let isNative = native.get(root);
      if (isNative === undefined) {
        isNative = hasNativeAddon(root);
        native.set(root, isNative);
      }
      return isNative ? { path: args.path, external: true } : undefined;
    });
  },
};

/** The directory of the installed package `path` is in, if it is in a `node_modules`. */
function packageRoot(path: string): string | undefined {
  const at = path.lastIndexOf('/node_modules/');
  if (at < 0) return undefined;
  const rest = path.slice(at + '/node_modules/'.length).split('/');
  const name = rest[0]?.startsWith('@') ? rest.slice(0, 2).join('/') : rest[0];
  return name ? join(path.slice(0, at), 'node_modules', name) : undefined;
}

/** Whether the package at `root` builds or loads a native addon. */
function hasNativeAddon(root: string): boolean {
  if (existsSync(join(root, 'binding.gyp'))) return true;
  try {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { gypfile?: boolean; dependencies?: Record<string, string> };
    const loaders = ['bindings', 'node-gyp-build', 'node-gyp-build-optional-packages', 'prebuild-install', 'node-pre-gyp', '@mapbox/node-pre-gyp'];
    return manifest.gypfile === true || loaders.some((name) => manifest.dependencies?.[name] !== undefined);
  } catch {
    return false;
  }
}
