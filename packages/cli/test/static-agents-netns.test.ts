// Static agents on other hosts, as near as one machine gets: each agent in its own network
// namespace, reaching the server over a veth pair. Needs root and `ip`; skipped without them, and
// failed (never skipped) when they are there but the namespaces cannot be set up.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { Lzy, RemoteConnection } from '@lzy/sdk';
import { whereAmI } from './fixtures/static-ops.js';
import { startAgent, startServer, type Teardown } from './harness.js';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/**
 * A 10.X prefix (X from 200 to 249) that no interface of this machine has an address in: a veth an
 * earlier run left behind on the same prefix would take the replies meant for this run's agents.
 */
function freePrefix(): string {
  const used = execFileSync('ip', ['-br', 'addr'], { encoding: 'utf8' });
  for (let n = 0; n < 50; n++) {
    const prefix = `10.${200 + ((process.pid + n) % 50)}`;
    if (!used.includes(` ${prefix}.`)) return prefix;
  }
  throw new Error('every prefix from 10.200 to 10.249 is in use on this machine: remove the leftover lzh* veths');
}

/** A network namespace `lzy<pid>-<i>` linked to the host by a veth pair on <prefix>.<i>.0/24; both removed at teardown. */
function namespace(t: Teardown, prefix: string, i: number): { name: string; hostAddress: string; address: string } {
  const name = `lzy${process.pid}-${i}`;
  const net = `${prefix}.${i}`;
  ip('netns', 'add', name);
  t.teardown(() => void ip('netns', 'del', name));
  const [host, inside] = [`lzh${process.pid % 100000}${i}`, `lzn${process.pid % 100000}${i}`];
  ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inside);
  // Deleting one end deletes the pair, even while the namespace lingers.
  t.teardown(() => {
    try {
      ip('link', 'del', host);
    } catch {
      // Gone with the namespace already.
    }
  });
  ip('link', 'set', inside, 'netns', name);
  ip('addr', 'add', `${net}.1/24`, 'dev', host);
  ip('link', 'set', host, 'up');
  ip('netns', 'exec', name, 'ip', 'addr', 'add', `${net}.2/24`, 'dev', inside);
  ip('netns', 'exec', name, 'ip', 'link', 'set', inside, 'up');
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  return { name, hostAddress: `${net}.1`, address: `${net}.2` };
}

/** Whether this machine can make network namespaces: root, with `ip` on PATH. */
function canMakeNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    ip('-V');
    return true;
  } catch {
    return false;
  }
}

t.test('ops run on agents in their own network namespaces', { skip: !canMakeNamespaces() && 'needs root and `ip` to make network namespaces' }, async (t) => {
  const prefix = freePrefix();
  const namespaces = [namespace(t, prefix, 1), namespace(t, prefix, 2)];
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
