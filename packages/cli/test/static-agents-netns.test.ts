// Static agents on other hosts, as near as one machine gets: each agent in its own network
// namespace, reaching the server over a veth pair. Needs root (`ip netns add`); skipped otherwise.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { whereAmI } from './fixtures/static-ops.js';
import { startAgent, startServer } from './harness.js';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** A network namespace `lzy<pid>-<i>` linked to the host by a veth pair on 10.<net>.<i>.0/24; removed at teardown. */
function namespace(i: number): { name: string; hostAddress: string; address: string } {
  const name = `lzy${process.pid}-${i}`;
  const net = `10.${200 + (process.pid % 50)}.${i}`;
  ip('netns', 'add', name);
  t.teardown(() => ip('netns', 'del', name));
  const [host, inside] = [`lzh${process.pid % 100000}${i}`, `lzn${process.pid % 100000}${i}`];
  ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inside);
  ip('link', 'set', inside, 'netns', name);
  ip('addr', 'add', `${net}.1/24`, 'dev', host);
  ip('link', 'set', host, 'up');
  ip('netns', 'exec', name, 'ip', 'addr', 'add', `${net}.2/24`, 'dev', inside);
  ip('netns', 'exec', name, 'ip', 'link', 'set', inside, 'up');
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  return { name, hostAddress: `${net}.1`, address: `${net}.2` };
}

let namespaces: Array<ReturnType<typeof namespace>> = [];
try {
  namespaces = [namespace(1), namespace(2)];
} catch (error) {
  t.comment(`network namespaces are not available here (${(error as Error).message.split('\n')[0]}); static-agents.test covers loopback`);
}

t.test('ops run on agents in their own network namespaces', { skip: namespaces.length === 0 && 'cannot create network namespaces (needs root and `ip netns`)' }, async (t) => {
  const server = await startServer(t, { args: ['--host', '0.0.0.0'], pools: [{ name: 'default', kind: 'static', slots: 1, maxNodes: 2, idleTimeoutMs: 60_000 }] });
  const local = `ws://127.0.0.1:${server.port}`;
  const admin = await RemoteConnection.open({ endpoint: local, token: server.adminToken });
  t.teardown(() => admin.close());
  const token = await admin.issueJoinToken('default');
  const agents = namespaces.map((ns) =>
    startAgent(t, ['--server', `ws://${ns.hostAddress}:${server.port}`, '--pool', 'default', '--token', token, '--slots', '1'], { netns: ns.name }),
  );
  const client = await Lzy.connect({ endpoint: local, token: await admin.issueToken('team'), onLog: () => {} });
  t.teardown(() => client.close());

  const places = await client.workflow('far', async () => Promise.all(['a', 'b'].map((tag) => whereAmI(tag))));
  for (const place of places) {
    const i = agents.findIndex((agent) => agent.nodeAgentPids().includes(place.agentPid));
    t.ok(i >= 0, `op ${place.tag} ran under a node-agent of \`lzy agent\``);
    t.ok(place.addresses.includes(namespaces[i]!.address), `inside that agent's namespace (${namespaces[i]!.address})`);
  }
});
