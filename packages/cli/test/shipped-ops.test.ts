// A client ships its op modules to a shared runtime: an op whose module exists only on the
// client's disk runs on the server's node-agents, which work in another directory.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { RuntimeConnection } from '@lzy/runtime';
import { Lzy, RemoteConnection, type Op } from '@lzy/sdk';
import { startServer, tempDir } from './harness.js';

t.test('an op whose module exists only on the client runs on an agent of lzy server working in another directory', async (t) => {
  const serverCwd = tempDir(t, 'lzy-server-cwd-');
  const server = await startServer(t, { cwd: serverCwd });

  // The client's project: an op module importing a file of its own, outside anything the server has.
  const project = tempDir(t, 'lzy-client-project-');
  mkdirSync(join(project, 'lib'));
  writeFileSync(join(project, 'lib', 'scale.mjs'), 'export const scale = (n) => n * 10;\n');
  writeFileSync(
    join(project, 'ops.mjs'),
    `import { op } from '${import.meta.resolve('@lzy/sdk')}';
import { scale } from './lib/scale.mjs';
export const where = op({}, async (n) => ({ value: scale(n), url: import.meta.url, cwd: process.cwd() }));
`,
  );
  const { where } = (await import(pathToFileURL(join(project, 'ops.mjs')).href)) as {
    where: Op<[number], { value: number; url: string; cwd: string }>;
  };

  // The project is gone once the graph is submitted (its module bundled and stored before).
  const connection = await RemoteConnection.open({ endpoint: server.url, token: server.adminToken });
  const submitThenForget: RuntimeConnection['submit'] = (workflowId, ops) => {
    rmSync(project, { recursive: true, force: true });
    return connection.submit(workflowId, ops);
  };
  const client = new Proxy(connection, {
    get: (target, key) => {
      if (key === 'submit') return submitThenForget;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const lzy = Lzy.over(client, { onLog: () => {} });
  t.teardown(() => lzy.close());

  const result = await lzy.workflow('shipped', () => where(4));
  t.equal(result.value, 40, 'the op and the file it imports were shipped');
  t.equal(result.cwd, serverCwd, "the agent works in the server's directory");
  t.match(result.url, new RegExp(`^${pathToFileURL(join(server.dataDir, 'nodes')).href}/[^/]+/[0-9a-f]{64}\\.mjs$`), "it ran the bundle from its node's cache");
});
