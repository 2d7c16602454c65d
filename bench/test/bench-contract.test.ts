// The contract of `run.js <bench>`: its last stdout line is one JSON object naming the bench and
// carrying its figures, each a finite positive value, baseline and ratio. Runs each bench in
// quick mode (tiny sizes) and asserts nothing about timing.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const runJs = fileURLToPath(new URL('../src/run.js', import.meta.url));
const NAMES: Record<string, string[]> = {
  actors: ['local-tell', 'remote-tell', 'remote-ask-p50', 'remote-ask-p99', 'journal-persist'],
  runtime: ['ops-throughput', 'op-latency-p50', 'op-latency-p99', 'dag-10k', 'dag-100k'],
  storage: ['file-1gib', 's3-1gib', 'agent-peak-rss', 'runtime-peak-rss'],
};

/** The subset of a tap test this file needs. */
interface Teardown {
  teardown(fn: () => void): void;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runBench(t: Teardown, args: string[]): Promise<Outcome> {
  const child = spawn(process.execPath, [runJs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LZY_BENCH_QUICK: '1' },
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

for (const [bench, names] of Object.entries(NAMES)) {
  t.test(`the ${bench} bench prints the contract line last`, async (t) => {
    const { code, signal, stdout, stderr } = await runBench(t, [bench]);
    t.equal(code, 0, `exits 0 (signal ${signal}); stderr:\n${stderr}`);
    const lines = stdout.split('\n').filter((line) => line.trim() !== '');
    t.ok(lines.length > 0, 'prints something on stdout');
    const last = lines.at(-1) ?? '';
    let parsed: unknown;
    t.doesNotThrow(() => (parsed = JSON.parse(last)), `last stdout line is JSON: ${last}`);
    const line = parsed as { bench?: unknown; results?: unknown };
    t.same(Object.keys(line ?? {}).sort(), ['bench', 'results'], 'has exactly bench and results');
    t.equal(line?.bench, bench);
    t.ok(Array.isArray(line?.results), 'results is an array');
    const results = (Array.isArray(line?.results) ? line.results : []) as Record<string, unknown>[];
    t.same(results.map((r) => r.name).sort(), [...names].sort(), `carries exactly the ${names.length} figures`);
    for (const result of results) {
      t.same(Object.keys(result).sort(), ['baseline', 'name', 'ratio', 'unit', 'value'], `${String(result.name)}: the five fields`);
      t.type(result.unit, 'string', `${String(result.name)}: unit is a string`);
      t.ok((result.unit as string).length > 0, `${String(result.name)}: unit is not empty`);
      for (const field of ['value', 'baseline', 'ratio']) {
        const v = result[field];
        t.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${String(result.name)}: ${field} is finite and positive (${String(v)})`);
      }
    }
  });
}

t.test('an unknown bench fails with the list of benches', async (t) => {
  const { code, stdout, stderr } = await runBench(t, ['no-such-bench']);
  t.equal(code, 1, 'exits 1');
  t.equal(stdout, '', 'prints nothing on stdout');
  t.match(stderr, /unknown bench 'no-such-bench'/);
  t.match(stderr, /actors, runtime/, 'lists the benches');
});
