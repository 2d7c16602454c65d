// Remoting over a Unix socket: the socket file is the credential, so only its owner may connect.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Type } from '@sinclair/typebox';
import { ask, spawnActor, startActorSystem, tell, type ActorRef } from '../src/index.js';
import { tempDir } from './harness.js';
import { newRemoting } from './remote-helpers.js';

type EchoMsg = { type: 'echo'; text: string; replyTo: ActorRef<string> };

t.test('a peer dials the ws+unix URL of a Remoting listening on a socket only its owner may use', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'runtime.sock');
  writeFileSync(path, 'left over by a process that died');
  const system = startActorSystem();
  t.teardown(() => system.stop());
  const echo = spawnActor<undefined, EchoMsg>(system, {
    initialState: () => undefined,
    receive: (state, msg) => (tell(msg.replyTo, `echo ${msg.text}`), state),
  });
  const server = newRemoting(t, { name: 'unix-server' });
  server.expose('echo', echo, { schema: Type.Object({ type: Type.Literal('echo'), text: Type.String() }) });
  const { url } = await server.listen({ path });

  t.equal(statSync(path).mode & 0o777, 0o600, 'the socket is read-write for its owner only');
  t.ok(statSync(path).isSocket(), 'the left-over file was replaced by the socket');
  const peer = newRemoting(t).connect(url);
  await peer.ready;
  t.equal(await ask(peer.ref<EchoMsg>('echo'), { type: 'echo', text: 'hi' }, 5_000), 'echo hi');

  await server.close();
  t.notOk(existsSync(path), 'closing removes the socket');
});
