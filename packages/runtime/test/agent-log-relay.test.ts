// The runtime relays each line of the node-agents it started into its own log, with the node's id.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { agentOutput, type AgentOutput } from '../src/allocator/local-backend.js';
import { StateLog } from '../src/observe/state-log.js';

t.test('a node-agent’s JSON line is relayed at its level with its fields, and a line that is not JSON (a crash’s trace) as text', async (t) => {
  const written: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const log = new StateLog(pino({ level: 'info', base: { service: 'lzy-server', pid: 1 } }, sink));
  t.teardown(() => log.close());
  const publish = (line: string) => agentOutput.publish({ nodeId: 'node-1', line } satisfies AgentOutput);

  publish(JSON.stringify({ level: 40, time: 1, service: 'lzy-node-agent', pid: 77, nodeId: 'node-1', tenant: 'team', attemptId: 'at-1', msg: 'lost the connection' }));
  publish(JSON.stringify({ level: 20, time: 2, service: 'lzy-node-agent', pid: 77, msg: 'below the level' }));
  publish('TypeError: Cannot read properties of undefined');
  publish('    at Attempt.begin (file:///agent.js:1:1)');
  await new Promise((resolve) => setImmediate(resolve));

  t.match(written[0], { level: 40, service: 'lzy-server', event: 'node-agent', nodeId: 'node-1', agentPid: 77, tenant: 'team', attemptId: 'at-1', msg: 'lost the connection' }, 'a JSON line keeps its level and fields, with its node and process');
  t.not(written[0]!['time'], 1, 'and is timed by the runtime');
  t.same(written.slice(1).map(({ level, event, nodeId, msg }) => ({ level, event, nodeId, msg })), [
    { level: 40, event: 'node-agent', nodeId: 'node-1', msg: 'TypeError: Cannot read properties of undefined' },
    { level: 40, event: 'node-agent', nodeId: 'node-1', msg: '    at Attempt.begin (file:///agent.js:1:1)' },
  ], 'a line below the runtime’s level is left out; the lines of a trace are relayed as text, one each');
});
