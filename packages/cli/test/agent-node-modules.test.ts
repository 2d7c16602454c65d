// `lzy agent --node-modules DIR`: a package that op bundles leave out (one with a native addon) is
// imported on the agent's host from DIR, the only place there that has it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { Lzy, OpError, type Op } from '@lzy/sdk';
import { lzy, startAgent, startServer, tempDir } from './harness.js';

/** A package that declares a native addon (`gypfile`), so bundles leave it out; it says where it was installed. */
function addonPackage(nodeModules: string, origin: string): void {
  const root = join(nodeModules, 'lzy-test-addon');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'lzy-test-addon', version: '1.0.0', type: 'module', main: 'index.js', gypfile: true }));
  writeFileSync(join(root, 'index.js'), `export const origin = ${JSON.stringify(origin)};\n`);
}

const server = await startServer(t, {
  pools: [
    { name: 'equipped', kind: 'static', idleTimeoutMs: 60_000 },
    { name: 'bare', kind: 'static', idleTimeoutMs: 60_000 },
  ],
});

// The client's project has the package too: its copy must not be what the agent runs.
const project = tempDir(t, 'lzy-client-project-');
addonPackage(join(project, 'node_modules'), 'the client');
writeFileSync(
  join(project, 'ops.mjs'),
  `import { op } from '${import.meta.resolve('@lzy/sdk')}';
import { origin } from 'lzy-test-addon';
export const equipped = op({ pool: 'equipped' }, async () => ({ origin, url: import.meta.url }));
export const bare = op({ pool: 'bare' }, async () => ({ origin, url: import.meta.url }));
`,
);
type Where = Op<[], { origin: string; url: string }>;
const { equipped, bare } = (await import(pathToFileURL(join(project, 'ops.mjs')).href)) as { equipped: Where; bare: Where };

t.test('lzy agent --node-modules DIR runs ops whose bundles import a package found only in DIR', async (t) => {
  const deps = join(tempDir(t, 'lzy-agent-host-'), 'node_modules');
  addonPackage(deps, 'the agent host');

  await t.test('an agent with it imports the package from there; one without cannot', async (t) => {
    const common = ['--server', server.url, '--slots', '1', '--token'];
    startAgent(t, [...common, await joinToken('equipped'), '--pool', 'equipped', '--node-modules', deps]);
    startAgent(t, [...common, await joinToken('bare'), '--pool', 'bare']);
    const client = await Lzy.connect({ endpoint: server.url, token: server.adminToken, onLog: () => {} });
    t.teardown(() => client.close());

    const ran = await client.workflow('equipped', () => equipped());
    t.equal(ran.origin, 'the agent host', 'the package came from --node-modules');
    t.match(ran.url, /\/lzy-agent-[^/]+\/bundles\/[0-9a-f]{64}\.mjs$/, "the op ran from its bundle in the agent's cache");

    const failed = await client.workflow('bare', () => bare()).catch((error: unknown) => error);
    t.type(failed, OpError, 'an agent without it cannot import the op');
    t.match((failed as OpError).message, /lzy-test-addon/);
  });
  t.ok(existsSync(join(deps, 'lzy-test-addon', 'index.js')), 'the stopped agent removed its working dir, not DIR');
});

t.test('lzy agent --node-modules refuses a directory that does not exist', async (t) => {
  const result = await lzy(['agent', '--server', server.url, '--pool', 'equipped', '--token', 'x', '--node-modules', '/nowhere/node_modules']);
  t.equal(result.code, 2);
  t.match(result.stderr, /lzy: error: bad --node-modules \/nowhere\/node_modules: no such directory\nhint: /);
});

async function joinToken(pool: string): Promise<string> {
  const created = await lzy(['token', 'create', '--agent', '--pool', pool, '--endpoint', server.url, '--token', server.adminToken]);
  if (created.code !== 0) throw new Error(created.stderr);
  return created.lines.at(-1)!;
}
