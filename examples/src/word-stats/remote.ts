// The word-stats workflow against a shared runtime (`lzy server`), with Lzy.connect:
//   npx lzy server --port 8080 --data-dir ./lzy-data &
//   LZY_ENDPOINT=ws://127.0.0.1:8080 LZY_TOKEN=$(cat ./lzy-data/admin.token) node examples/dist/word-stats/remote.js
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lzy } from '@lzy/sdk';
import { bigramFrequencies, loadCorpus, report, stopWords, tokenize, wordFrequencies } from './ops.js';

const endpoint = process.env.LZY_ENDPOINT;
const token = process.env.LZY_TOKEN;
if (!endpoint || !token) {
  console.error('set LZY_ENDPOINT (ws://HOST:PORT of `lzy server`) and LZY_TOKEN (e.g. the server\'s DATA_DIR/admin.token)');
  process.exit(2);
}
const corpus = fileURLToPath(new URL('../../data', import.meta.url));
const lzy = await Lzy.connect({ endpoint, token });
try {
  console.error(`connected to ${endpoint} as tenant ${lzy.tenant}`);
  const result = await lzy.workflow('word-stats', async () => {
    const tokens = tokenize(loadCorpus(corpus));
    const stop = stopWords(join(tmpdir(), `lzy-demo-${randomUUID()}`));
    return report(tokens, wordFrequencies(tokens, stop), bigramFrequencies(tokens, stop));
  });
  console.log(JSON.stringify(result, null, 2));
} finally {
  await lzy.close();
}
