import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { Lzy } from '../src/index.js';
import { countedFailure, countedSquare } from './fixtures/ops.js';
import { tempDir } from './harness.js';

const sdkEntry = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;
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

t.test("a cached op runs again after its code or its version changes", async (t) => {
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
  return ${body};
});
`,
    );
  const run = () => {
    const result = spawnSync(process.execPath, [runner, dataDir, pathToFileURL(module).href, dir, '5'], { encoding: 'utf8' });
    const last = result.stdout.trim().split('\n').pop() ?? '';
    return last.startsWith('error') ? last : JSON.parse(last);
  };

  writeOp('n + 1', '1');
  t.equal(run(), 6);
  t.equal(run(), 6);
  t.equal(executions(dir, 'cachedOp'), 1, 'same code and version: cached');
  writeOp('n + 100', '1');
  t.equal(run(), 105, 'the edited body gives its own result, not the stale one');
  t.equal(executions(dir, 'cachedOp'), 2);
  writeOp('n + 100', '2');
  t.equal(run(), 105);
  t.equal(executions(dir, 'cachedOp'), 3, 'a new version runs again');
});
