import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { heldWhere, whereAmI } from './fixtures/static-ops.js';
import { lzy, runs, startAgent, startServer, tempDir, waitUntil, type Teardown } from './harness.js';

// Every op without a pool option runs in `default`, a static pool: only joined agents run them.
const server = await startServer(t, {
  pools: [
    { name: 'default', kind: 'static', slots: 2, maxNodes: 2, idleTimeoutMs: 300 },
    { name: 'other', kind: 'static' },
  ],
});
const admin = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
t.teardown(() => admin.close());

async function connect(t: Teardown, tenant: string): Promise<Lzy> {
  const client = await Lzy.connect({ endpoint: server.url, token: await admin.issueToken(tenant), onLog: () => {} });
  t.teardown(() => client.close());
  return client;
}

t.test('ops of a workflow run on the agents that joined the static pool', async (t) => {
  const token = await admin.issueJoinToken('default');
  const args = ['--server', server.url, '--pool', 'default', '--token', token, '--slots', '2'];
  const agents = [startAgent(t, args), startAgent(t, args)];
  const client = await connect(t, 'team');
  const places = await client.workflow('spread', async () => Promise.all(['a', 'b', 'c', 'd'].map((tag) => whereAmI(tag))));
  const started = agents.flatMap((agent) => agent.nodeAgentPids());
  t.same(places.map((place) => place.tag), ['a', 'b', 'c', 'd']);
  for (const place of places) {
    t.ok(started.includes(place.agentPid), `op ${place.tag} ran under node-agent ${place.agentPid}, one that \`lzy agent\` started`);
    t.match(place.cwd, /lzy-agent-/, 'in the working dir `lzy agent` made for it');
  }
});

t.test('two tenants never share a static node; a released node comes back fresh before it serves another', async (t) => {
  const agent = startAgent(t, ['--server', server.url, '--pool', 'default', '--token', await admin.issueJoinToken('default'), '--slots', '1']);
  const alice = await connect(t, 'alice');
  const bob = await connect(t, 'bob');
  const dir = tempDir(t);

  // Alice holds the pool's only node; Bob's op waits for a node of his own. (A node leased and then
  // released before its first op arrived, past the pool's 300 ms idle timeout, is replaced by a
  // fresh one: alice's op runs on the agent's latest node-agent.)
  const alicesRun = alice.workflow('hold', async () => heldWhere(dir, 'held'));
  await waitUntil(() => runs(dir, 'held') === 1, 'alice to hold the node', 60_000);
  const first = agent.nodeAgentPids().at(-1);
  const bobsRun = bob.workflow('wait', async () => whereAmI('bob'));
  writeFileSync(join(dir, 'held.go'), '');

  const alices = await alicesRun;
  t.equal(alices.agentPid, first, "alice's op ran on the node she was leased");
  const bobs = await bobsRun;
  const pids = agent.nodeAgentPids();
  t.ok(pids.indexOf(bobs.agentPid) > pids.indexOf(first!), "bob's op ran on a fresh node-agent, started after alice's node was released");
  t.not(bobs.agentPid, first, "never on alice's");
  t.not(bobs.cwd, alices.cwd, 'in a fresh working dir');

  // Bob's node is released in turn; Alice, back, gets a fresh one too.
  const again = await alice.workflow('again', async () => whereAmI('alice'));
  t.not(again.agentPid, bobs.agentPid, "alice's later op does not run on bob's node");
  t.ok(agent.nodeAgentPids().indexOf(again.agentPid) > pids.indexOf(bobs.agentPid), 'but on a node-agent started after it');
});

t.test('ops of a static node that dies run again on a fresh node', async (t) => {
  const agent = startAgent(t, ['--server', server.url, '--pool', 'default', '--token', await admin.issueJoinToken('default'), '--slots', '1']);
  const client = await connect(t, 'crashy');
  const dir = tempDir(t);
  const run = client.workflow('survives', async () => heldWhere(dir, 'held'));
  await waitUntil(() => runs(dir, 'held') === 1, 'the op to start', 60_000);
  const [first] = agent.nodeAgentPids();
  process.kill(first!, 'SIGKILL');
  await waitUntil(() => runs(dir, 'held') === 2, 'the op to run again', 60_000);
  writeFileSync(join(dir, 'held.go'), '');
  const place = await run;
  t.equal(place.agentPid, agent.nodeAgentPids()[1], 'it ran again on the node-agent `lzy agent` started after the crash');
});

t.test('an agent with a bad join token is refused with exit code 3', async (t) => {
  const tenantToken = await admin.issueToken('team');
  const otherPool = await admin.issueJoinToken('other');
  const join = (pool: string, token: string) => lzy(['agent', '--server', server.url, '--pool', pool, '--token', token, '--slots', '1']);

  const [asTenant, wrongPool, unknownPool, forged] = await Promise.all([
    join('default', tenantToken),
    join('default', otherPool),
    join('nowhere', otherPool),
    join('default', 'lzy_forged'),
  ]);
  t.equal(asTenant.code, 3, 'a tenant token');
  t.match(asTenant.stderr, /not a pool join token/);
  t.match(asTenant.stderr, /hint: .*lzy token create --agent --pool NAME/);

  t.equal(wrongPool.code, 3, "another pool's join token");
  t.match(wrongPool.stderr, /this join token is for pool other, not default/);

  t.equal(unknownPool.code, 3, 'a pool that does not exist');
  t.match(unknownPool.stderr, /not nowhere/);

  t.equal(forged.code, 3, 'an unknown token');
  t.match(forged.stderr, /unknown token/);

  const noSuchPool = await lzy(['token', 'create', '--agent', '--pool', 'nowhere', '--endpoint', server.url, '--token', server.adminToken]);
  t.equal(noSuchPool.code, 1, 'no join token is issued for a pool that is not static');
  t.match(noSuchPool.stderr, /no static pool named nowhere \(static pools: default, other\)/);

  await t.rejects(Lzy.connect({ endpoint: server.url, token: otherPool }), { message: /join token of pool other/ }, 'a join token is no client token');
});

t.test('`lzy token create --agent --pool` prints a join token that lets an agent join', async (t) => {
  const created = await lzy(['token', 'create', '--agent', '--pool', 'default', '--endpoint', server.url, '--token', server.adminToken]);
  t.equal(created.code, 0, created.stderr);
  const agent = startAgent(t, ['--server', server.url, '--pool', 'default', '--token', created.lines.at(-1)!, '--slots', '1']);
  const client = await connect(t, 'cli-user');
  const place = await client.workflow('joined', async () => whereAmI('x'));
  t.equal(place.agentPid, agent.nodeAgentPids().at(-1), 'its op ran on that agent');
});
