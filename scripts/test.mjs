// Runs every compiled test file with tap, then prints the plain summary line CI reads:
// `N passed, N failed`, counting each file's top-level tests (a file that dies counts as failed).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, existsSync, statSync, mkdtempSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages/actors', 'packages/runtime', 'packages/sdk', 'packages/node-agent', 'packages/kube-sim', 'packages/cli', 'bench', 'examples'];

function* walk(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (entry.endsWith('.test.js')) yield path;
  }
}

const filter = process.argv.slice(2);
const files = roots
  .flatMap((dir) => [...walk(join(root, dir, 'dist', 'test'))])
  .map((file) => relative(root, file))
  // A compiled test whose source is gone (renamed or deleted) is stale output: skip it.
  .filter((file) => existsSync(join(root, file.replace(/\/dist\//, '/').replace(/\.js$/, '.ts'))))
  .filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('no test files found: did the build run? (npm run build)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// Each run saves its raw TAP in its own folder, so runs at the same time do not mix their counts.
mkdirSync(join(root, '.tap'), { recursive: true });
const resultsDir = mkdtempSync(join(root, '.tap', 'results-'));
process.on('exit', () => rmSync(resultsDir, { recursive: true, force: true }));
const tap = spawnSync(
  join(root, 'node_modules', '.bin', 'tap'),
  ['--disable-coverage', '--allow-empty-coverage', '--timeout=240', `--output-dir=${resultsDir}`, `--reporter=${process.stdout.isTTY ? 'base' : 'terse'}`, ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --enable-source-maps`.trim() } },
);

let passed = 0;
let failed = 0;
for (const file of files) {
  const saved = join(resultsDir, `${file}.tap`);
  const lines = existsSync(saved) ? readFileSync(saved, 'utf8').split('\n') : [];
  const points = lines.filter((line) => /^(not )?ok \d+/.test(line));
  const planned = lines.find((line) => /^1\.\.\d+/.test(line));
  const fileFailed = points.filter((line) => line.startsWith('not ok')).length;
  for (const [index, line] of lines.entries()) {
    if (!line.startsWith('not ok')) continue;
    // The failure and the first lines of its diagnostics, so a CI log says what broke.
    const details = lines.slice(index + 1, index + 16).filter((l) => l.startsWith('  ')).join('\n');
    console.error(`FAILED ${file}: ${line}\n${details}`);
  }
  passed += points.length - fileFailed;
  failed += fileFailed;
  if (points.length === 0 || !planned) {
    console.error(`${file}: ended without finishing its tests`);
    failed += 1;
  }
}
if (tap.status !== 0 && failed === 0) failed = 1;
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
