// Demo: two actor systems in two processes. This one starts `pong-server` as a child process,
// connects to it over ws, tells it 10,000 pings and asks for the tally.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ask, Remoting, tell } from '@lzy/actors';
import type { PongMsg } from './pong-server.js';

const server = spawn(process.execPath, [fileURLToPath(new URL('./pong-server.js', import.meta.url))], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [url] = await createInterface({ input: server.stdout! })[Symbol.asyncIterator]().next().then((r) => [r.value as string]);
console.error(`pong-system (pid ${server.pid}) listens on ${url}`);

const remoting = new Remoting({ name: 'ping-system' });
const peer = remoting.connect(url!);
await peer.ready;
const pong = peer.ref<PongMsg>('pong');

const count = 10_000;
const started = performance.now();
for (let i = 1; i <= count; i++) tell(pong, { type: 'ping', text: `ping ${i}` });
const tally = await ask(pong, { type: 'tally' }, 10_000);
const ms = performance.now() - started;
console.error(`sent ${count} pings and asked for the tally in ${ms.toFixed(0)} ms`);
console.log(JSON.stringify(tally));

await remoting.close();
server.kill('SIGTERM');
if (tally.pings !== count) process.exitCode = 1;
