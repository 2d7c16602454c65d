// The second actor system of the demo: a `pong` actor that keeps a tally, exposed over ws.
import { Type } from '@sinclair/typebox';
import { Remoting, spawnActor, startActorSystem, tell, type ActorRef } from '@lzy/actors';

export type PongMsg = { type: 'ping'; text: string } | { type: 'tally'; replyTo: ActorRef<{ pings: number; last: string }> };

const PongWire = Type.Union([
  Type.Object({ type: Type.Literal('ping'), text: Type.String() }),
  Type.Object({ type: Type.Literal('tally') }),
]);

const system = startActorSystem({ name: 'pong-system' });
const pong = spawnActor<{ pings: number; last: string }, PongMsg>(system, {
  name: 'pong',
  initialState: () => ({ pings: 0, last: '' }),
  receive: (state, msg) => {
    if (msg.type === 'ping') return { pings: state.pings + 1, last: msg.text };
    tell(msg.replyTo, state);
    return state;
  },
});
const remoting = new Remoting({ name: 'pong-system' });
remoting.expose('pong', pong, { schema: PongWire });
const { url } = await remoting.listen({ port: 0 });
process.stdout.write(`${url}\n`);
process.on('SIGTERM', async () => {
  await remoting.close();
  system.stop();
  process.exit(0);
});
