// The README's demo: a diamond of word-statistics ops on the embedded runtime.
//   loadCorpus → tokenize (cached) ─┬→ wordFrequencies ──┐
//                 stopWords (retried)┴→ bigramFrequencies ┴→ report
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lzy } from '@lzy/sdk';
import { bigramFrequencies, loadCorpus, report, stopWords, tokenize, wordFrequencies } from './ops.js';

const corpus = fileURLToPath(new URL('../../data', import.meta.url));
const started = performance.now();
const lzy = await Lzy.start();
try {
  const result = await lzy.workflow('word-stats', async () => {
    const tokens = tokenize(loadCorpus(corpus));
    const stop = stopWords(join(tmpdir(), `lzy-demo-${randomUUID()}`));
    return report(tokens, wordFrequencies(tokens, stop), bigramFrequencies(tokens, stop));
  });
  console.error(`word-stats finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await lzy.close();
}
