// Runs one bench by name: `node bench/dist/src/run.js <name>` (or `npm run bench -- <name>` at
// the root). Progress and figures go to stderr; the last stdout line is the contract line
// `{"bench":<name>,"results":[{"name","value","unit","baseline","ratio"}, ...]}`.
// LZY_BENCH_QUICK=1 runs tiny sizes (seconds), for the tests.
import type { BenchModule } from './util.js';

const benches: Record<string, () => Promise<BenchModule>> = {
  actors: () => import('./actors.js'),
  runtime: () => import('./runtime.js'),
  kube: () => import('./kube.js'),
  storage: () => import('./storage.js'),
  workflows: () => import('./workflows.js'),
};

const name = process.argv[2];
const load = name === undefined ? undefined : benches[name];
if (!load) {
  const known = Object.keys(benches).join(', ');
  process.stderr.write(
    name === undefined ? `usage: run.js <bench>; benches: ${known}\n` : `unknown bench '${name}'; benches: ${known}\n`,
  );
  process.exit(1);
}

try {
  const bench = await load();
  const results = await bench.run({ quick: process.env.LZY_BENCH_QUICK === '1' });
  process.stdout.write(`${JSON.stringify({ bench: name, results })}\n`);
  // Everything the bench opened is closed by now; should a handle linger, do not hang on it.
  setTimeout(() => {
    process.stderr.write('bench: handles still open 2 s after the results; exiting anyway\n');
    process.exit(0);
  }, 2_000).unref();
} catch (error) {
  process.stderr.write(`bench ${name} failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
