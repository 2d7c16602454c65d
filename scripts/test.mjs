// Runs every compiled test file (each a tap test, as a plain node process), then prints the plain summary line CI reads:
// `N passed, N failed`, then `, N skipped` when any were, counting each file's top-level tests.
// A skipped or todo test is counted as skipped, never as passed; a test that made no assertion
// (it or one of its subtests) and a file that dies count as failed. Everything the files print
// (their stdout and stderr, and those of the processes they start) is kept, and scanned after the
// last file for tokens and other secrets: one more test, failed when any line holds one.
import { spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, rmSync, existsSync, statSync, mkdtempSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { findSecrets, findSplitSecrets } from './secret-scan.mjs';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages/actors', 'packages/runtime', 'packages/sdk', 'packages/node-agent', 'packages/kube-sim', 'packages/s3-test-server', 'packages/cli', 'bench', 'examples'];

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
// Each test file runs as a plain `node FILE` (tap's `t` needs no runner), a few at a time, on this
// Node whatever `node` is first on PATH. Not through tap's runner: it loads a module-tracking hook
// into every process a test starts and into theirs (runtimes, agents, the CLI), which doubles the
// CPU each of them takes to start. Test files spend much of their time waiting on the processes
// they start, so more files run at once than there are cores; not twice as many, which starves the
// heaviest files (many processes each) of CPU.
const jobs = availableParallelism() + 1;
/** A file's own limit, as tap's runner gives it (TAP_TIMEOUT); past it and a grace period, its process group is killed. */
const TIMEOUT_S = 360;
const env = { ...process.env, LZY_TEST_NODE: process.version, TAP_TIMEOUT: String(TIMEOUT_S), NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --enable-source-maps`.trim() };
/** What the run printed, by stream, passed on as it comes. */
const printed = { stdout: [], stderr: [] };
const print = (stream, text) => {
  process[stream].write(text);
  printed[stream].push(Buffer.from(text));
};
/** The process groups of the files running now: killed if this runner is stopped. */
const running = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const pid of running) killGroup(pid);
    process.exit(1);
  });
}
function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}

/** Runs one file, its TAP saved to the results dir and its stderr passed on; resolves with its exit code (1 when killed). */
async function runFile(file) {
  const saved = join(resultsDir, `${file}.tap`);
  mkdirSync(dirname(saved), { recursive: true });
  const started = Date.now();
  const child = spawn(process.execPath, [file], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child.pid);
  const out = createWriteStream(saved);
  child.stdout.pipe(out);
  child.stderr.on('data', (chunk) => print('stderr', chunk));
  let killed = false;
  const watchdog = setTimeout(() => {
    killed = true;
    killGroup(child.pid);
  }, (TIMEOUT_S + 30) * 1000);
  const code = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  clearTimeout(watchdog);
  running.delete(child.pid);
  await new Promise((resolve) => out.end(resolve));
  // What the file left running (a process it started and did not stop) goes with it.
  killGroup(child.pid);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  print('stdout', `${code === 0 ? ' PASS ' : ' FAIL '} ${file} ${seconds} s${killed ? ` (killed after ${TIMEOUT_S + 30} s)` : ''}\n`);
  return code;
}

const queue = [...files];
/** Exit codes by file. */
const codes = new Map();
await Promise.all(
  Array.from({ length: Math.min(jobs, files.length) }, async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) codes.set(file, await runFile(file));
  }),
);

/** The failed assertions among a test's subtest lines, each with the first lines of its diagnostics (its diff, its source). */
function failedSubtests(lines) {
  return lines.flatMap((line, index) => (/^\s+not ok /.test(line) ? lines.slice(index, index + 14) : []));
}

/** A top-level test point of a file's TAP: `ok 3 - name # SKIP why`, `not ok 4 - name`. */
const POINT = /^(not )?ok \d+( - (.*?))?( # (SKIP|TODO)\b.*| # time=.*)?$/i;

let passed = 0;
let failed = 0;
let skipped = 0;
/** Each file's time (ms): the sum of its top-level tests' times, which run one after another. */
const fileMs = new Map();
/** Lines that hold a secret: from each file's saved TAP (its stdout), then from what the run printed. */
const leaks = [];
for (const file of files) {
  const saved = join(resultsDir, `${file}.tap`);
  const lines = existsSync(saved) ? readFileSync(saved, 'utf8').split('\n') : [];
  leaks.push(...findSecrets(file, lines));
  const planned = lines.some((line) => /^1\.\.\d+/.test(line));
  let points = 0;
  // The lines of the test that the next point closes: its subtests' output, indented.
  let body = [];
  for (const [index, line] of lines.entries()) {
    const point = POINT.exec(line);
    if (!point) {
      body.push(line);
      continue;
    }
    points += 1;
    const [, notOk, , name, , directive] = point;
    const ms = / # time=([\d.]+)ms$/.exec(line);
    if (ms) fileMs.set(file, (fileMs.get(file) ?? 0) + Number(ms[1]));
    // A subtest (or the test itself) whose plan is `1..0` ran without asserting anything.
    const empty = body.some((l) => /^\s+1\.\.0(\s|$)/.test(l));
    const subtests = body;
    body = [];
    if (directive) {
      skipped += 1;
      continue;
    }
    if (!notOk && !empty) {
      passed += 1;
      continue;
    }
    failed += 1;
    // The failure and the first lines of its diagnostics, so a CI log says what broke.
    const details = notOk ? [...failedSubtests(subtests), ...lines.slice(index + 1, index + 16).filter((l) => l.startsWith('  '))].join('\n') : '  it (or a subtest of it) made no assertion';
    console.error(`FAILED ${file}: ${notOk ? line : `${name ?? line} (no assertion)`}\n${details}`);
  }
  if (points === 0 || !planned) {
    console.error(`${file}: ended without finishing its tests`);
    failed += 1;
  } else if (codes.get(file) !== 0 && !lines.some((line) => POINT.exec(line)?.[1])) {
    console.error(`${file}: exited with code ${codes.get(file)} although its tests passed`);
    failed += 1;
  }
}
for (const [stream, chunks] of Object.entries(printed)) {
  const text = Buffer.concat(chunks).toString('utf8');
  leaks.push(...findSecrets(`the run's ${stream}`, text.split('\n')), ...findSplitSecrets(`the run's ${stream}`, text));
}
if (leaks.length === 0) passed += 1;
else {
  failed += 1;
  console.error(`FAILED the secret scan of what the tests printed: ${leaks.length} line(s) hold a token or secret (masked here)\n${leaks.map((leak) => `  ${leak}`).join('\n')}`);
}
// The slowest files, to keep one run of the suite short: the run waits for the longest of them.
const slowest = [...fileMs].sort((a, b) => b[1] - a[1]).slice(0, 8);
console.log(`\nslowest test files: ${slowest.map(([file, ms]) => `${file.replace(/^packages\//, '').replace('/dist/test/', ': ').replace(/\.test\.js$/, '')} ${(ms / 1000).toFixed(0)} s`).join(', ')}`);
console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
