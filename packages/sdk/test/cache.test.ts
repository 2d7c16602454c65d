import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { Lzy } from '../src/index.js';
import { countedFailure, countedSquare } from './fixtures/ops.js';
import { tempDir } from './harness.js';

const sdkEntry = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;
const execFileAsync = promisify(execFile);
const runner = fileURLToPath(new URL('./fixtures/cache-run.js', import.meta.url));

const executions = (dir: string, name: string) => {
  const file = join(dir, `${name}.count`);
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0;
};

t.test('a cached op is not run again on a second workflow run, and a failed op is not cached', async (t) => {
  const dir = tempDir(t);
  const lzy = await Lzy.start({ dataDir: tempDir(t), onLog: () => {} });
  t.teardown(() => lzy.close());
  t.equal(await lzy.workflow('first', async () => countedSquare(dir, 12)), 144);
  t.equal(await lzy.workflow('second', async () => countedSquare(dir, 12)), 144);
  t.equal(executions(dir, 'countedSquare'), 1, 'the second run used the cached result');
  t.equal(await lzy.workflow('other input', async () => countedSquare(dir, 3)), 9);
  t.equal(executions(dir, 'countedSquare'), 2, 'another input is another cache entry');

  for (let i = 0; i < 2; i++) await lzy.workflow('failing', async () => countedFailure(dir)).catch(() => {});
  t.equal(executions(dir, 'countedFailure'), 2, 'failures are never cached');
});

/** Runs the cached op of `module` in a fresh process; its result (or `error …`) and the runtime's notices about the op. */
async function runCached(dataDir: string, module: string, countDir: string, n: number): Promise<{ result: unknown; notices: string[] }> {
  // Not spawnSync: the runtime it joins runs in this process's event loop.
  const run = await execFileAsync(process.execPath, [runner, dataDir, pathToFileURL(module).href, countDir, String(n)], { encoding: 'utf8' });
  const lines = run.stdout.trim().split('\n');
  const last = lines.pop() ?? '';
  return {
    result: last.startsWith('error') ? last : JSON.parse(last),
    notices: lines.filter((line) => line.startsWith('notice ')).map((line) => line.slice('notice '.length)),
  };
}

/**
 * Runs the runtime of `dataDir` in this process for the rest of the test, so that each fresh
 * process of `runCached` joins it (and its warm nodes) instead of starting one of its own.
 */
async function holdRuntime(t: Test, dataDir: string): Promise<void> {
  const holder = await Lzy.start({ dataDir, onLog: () => {} });
  t.teardown(() => holder.close());
}

/** Rewrites `file` from another process, as an editor would. */
function editFile(file: string, content: string): void {
  const edit = spawnSync(process.execPath, ['-e', 'require("node:fs").writeFileSync(process.argv[1], process.argv[2])', file, content]);
  if (edit.status !== 0) throw new Error(`could not edit ${file}: ${edit.stderr}`);
}

t.test('a cached op runs again after its code or its version changes, and says why it was not cached', async (t) => {
  const dir = tempDir(t);
  const dataDir = tempDir(t);
  const module = join(tempDir(t), 'cached-op.mjs');
  const writeOp = (body: string, version: string) =>
    writeFileSync(
      module,
      `import { appendFileSync } from 'node:fs';
import { op } from '${sdkEntry}';
export const cachedOp = op({ cache: true, version: '${version}' }, async (dir, n) => {
  appendFileSync(dir + '/cachedOp.count', 'x\\n');
  if (n === 13) throw new Error('unlucky');
  return ${body};
});
`,
    );
  const run = (n = 5) => runCached(dataDir, module, dir, n);

  writeOp('n + 1', '1');
  // These two runs each start the runtime and close it: the cache outlives the runtime.
  t.same(await run(), { result: 6, notices: ['not taken from the cache (never-cached); running it'] });
  t.same(await run(), { result: 6, notices: ['result taken from the cache'] });
  t.equal(executions(dir, 'cachedOp'), 1, 'same code and version: cached');
  await holdRuntime(t, dataDir);
  writeOp('n + 100', '1');
  t.same(await run(), { result: 105, notices: ['not taken from the cache (code-changed: cached-op.mjs); running it'] }, 'the edited body gives its own result, not the stale one');
  t.equal(executions(dir, 'cachedOp'), 2);
  writeOp('n + 100', '2');
  t.same(await run(), { result: 105, notices: ['not taken from the cache (version-changed); running it'] });
  t.equal(executions(dir, 'cachedOp'), 3, 'a new version runs again');
  t.same(await run(6), { result: 106, notices: ['not taken from the cache (inputs-changed); running it'] });
  t.match(await run(13), { result: /^error .*unlucky/ });
  t.match(await run(13), { result: /^error .*unlucky/, notices: ['not taken from the cache (previous-failed); running it'] });
  t.equal(executions(dir, 'cachedOp'), 6, 'a failed call runs again');
});

t.test('a cached op runs again after a helper module it imports is edited; editing a file it does not import keeps the hit', async (t) => {
  const dir = tempDir(t);
  const dataDir = tempDir(t);
  const project = tempDir(t);
  const module = join(project, 'ops.mjs');
  const helper = join(project, 'helper.mjs');
  const unrelated = join(project, 'unrelated.mjs');
  writeFileSync(helper, 'export const bonus = 1;\n');
  writeFileSync(unrelated, 'export const other = 1;\n');
  writeFileSync(
    module,
    `import { appendFileSync } from 'node:fs';
import { op } from '${sdkEntry}';
import { bonus } from './helper.mjs';
export const cachedOp = op({ cache: true, version: '1' }, async (dir, n) => {
  appendFileSync(dir + '/cachedOp.count', 'x\\n');
  return n + bonus;
});
`,
  );
  await holdRuntime(t, dataDir);
  const run = () => runCached(dataDir, module, dir, 5);

  t.same(await run(), { result: 6, notices: ['not taken from the cache (never-cached); running it'] });
  t.same(await run(), { result: 6, notices: ['result taken from the cache'] });
  editFile(unrelated, 'export const other = 2;\n');
  t.same(await run(), { result: 6, notices: ['result taken from the cache'] }, 'a file the op does not import changes nothing');
  t.equal(executions(dir, 'cachedOp'), 1);
  editFile(helper, 'export const bonus = 1000;\n');
  t.same(await run(), { result: 1005, notices: ['not taken from the cache (code-changed: helper.mjs); running it'] }, 'the edited helper is not served stale');
  t.equal(executions(dir, 'cachedOp'), 2);
  t.same(await run(), { result: 1005, notices: ['result taken from the cache'] });
});
