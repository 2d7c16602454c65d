// Process B of the remote actors benches. Runs, side by side:
//  - a Remoting exposing `counter` (counts `inc` tells, answers `expect` asks once it has counted
//    that many) and `echo` (answers an ask with its payload);
//  - a bare ws server doing the same with msgpackr: each ws message is one payload; it counts
//    `inc`s, answers `expect` with `counted` once reached, and echoes `echo`.
// Prints one JSON line (PeerReady) on stdout once both listen; exits when its stdin closes (the
// bench closes it, or the bench died) or on SIGTERM.
import { WebSocketServer, type WebSocket } from 'ws';
import { Remoting, spawnActor, startActorSystem, tell } from '@lzy/actors';
import {
  counterReceive,
  CounterSchema,
  EchoSchema,
  newPackr,
  type CounterMsg,
  type CounterState,
  type Echo,
  type EchoMsg,
  type PeerReady,
} from './actors-wire.js';
import type { AddressInfo } from 'node:net';

async function main(): Promise<void> {
  const system = startActorSystem({ name: 'bench-peer' });
  const counter = spawnActor<CounterState, CounterMsg>(system, {
    name: 'counter',
    initialState: () => ({ count: 0, waiting: [] }),
    receive: counterReceive,
  });
  const echo = spawnActor<null, EchoMsg>(system, {
    name: 'echo',
    initialState: () => null,
    receive(state, message) {
      const reply: Echo = { type: 'echo', seq: message.seq, data: message.data };
      tell(message.replyTo, reply);
      return state;
    },
  });
  const remoting = new Remoting({ name: 'bench-peer' });
  remoting.expose('counter', counter, { schema: CounterSchema });
  remoting.expose('echo', echo, { schema: EchoSchema });
  const { url: remotingUrl } = await remoting.listen({ host: '127.0.0.1' });

  const packr = newPackr();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (socket: WebSocket) => {
    let count = 0;
    let waiting: number[] = [];
    socket.on('error', () => {});
    socket.on('message', (data: Buffer) => {
      const message = packr.unpack(data) as { type: string; n?: number; seq?: number; data?: string };
      switch (message.type) {
        case 'inc':
          count++;
          if (waiting.length > 0 && count >= Math.min(...waiting)) flushWaiting();
          break;
        case 'expect':
          waiting.push(message.n!);
          flushWaiting();
          break;
        case 'echo':
          socket.send(packr.pack({ type: 'echo', seq: message.seq, data: message.data }), { binary: true });
          break;
      }
    });
    function flushWaiting(): void {
      const still: number[] = [];
      for (const n of waiting) {
        if (count >= n) socket.send(packr.pack({ type: 'counted', n: count }), { binary: true });
        else still.push(n);
      }
      waiting = still;
    }
  });
  const wsAddress = wss.address() as AddressInfo;

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(0), 2_000);
    force.unref();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await remoting.close();
    system.stop();
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);

  const ready: PeerReady = { ready: true, remoting: remotingUrl, ws: `ws://127.0.0.1:${wsAddress.port}` };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`actors-peer failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
