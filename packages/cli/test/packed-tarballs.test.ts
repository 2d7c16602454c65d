// The packages as npm users get them: packed with `npm pack`, installed from the tarballs into a
// project outside the repository (their other dependencies from the registry), and used there as a
// library: a workflow on the embedded runtime, then `npx lzy status` listing it.
import { execFile } from 'node:child_process';
import { readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { tempDir } from './harness.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const packages = ['actors', 'runtime', 'node-agent', 'sdk', 'cli'];

/** `npm ...args` in `cwd`; its stdout. */
async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return stdout;
}

t.test('each tarball holds the built code, its types, README and LICENSE, and no tests', async (t) => {
  for (const name of packages) {
    const [packed] = JSON.parse(await npm(join(repo, 'packages', name), ['pack', '--dry-run', '--json'])) as [{ name: string; files: Array<{ path: string }> }];
    const files = packed.files.map((file) => file.path);
    t.ok(files.includes('dist/src/index.js') || files.includes('dist/src/main.js'), `${packed.name} has its code`);
    t.ok(files.includes('dist/src/index.d.ts') || name === 'cli', `${packed.name} has its types`);
    t.ok(files.includes('README.md') && files.includes('LICENSE'), `${packed.name} has README.md and LICENSE`);
    t.same(files.filter((file) => /(^|\/)test\/|tsbuildinfo|\.test\./.test(file)), [], `${packed.name} has no tests and no build info`);
  }
});

t.test('packed and installed outside the repo, the packages run a workflow with Lzy.start() and npx lzy status lists it', async (t) => {
  const tarballs = tempDir(t, 'lzy-tarballs-');
  for (const name of packages) await npm(join(repo, 'packages', name), ['pack', '--pack-destination', tarballs]);
  const project = realpathSync(tempDir(t, 'lzy-user-project-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  await npm(project, ['install', '--no-audit', '--no-fund', ...readdirSync(tarballs).map((file) => join(tarballs, file))]);

  writeFileSync(
    join(project, 'ops.js'),
    `import { op } from '@lzy/sdk';
export const double = op({}, async (n) => ({ value: n * 2, runner: process.argv[1], bundle: import.meta.url }));
`,
  );
  writeFileSync(
    join(project, 'main.js'),
    `import { Lzy } from '@lzy/sdk';
import { double } from './ops.js';
const lzy = await Lzy.start();
const result = await lzy.workflow('packed', async () => double(21));
await lzy.close();
console.log(JSON.stringify(result));
`,
  );
  const { stdout } = await run(process.execPath, ['main.js'], { cwd: project });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { value: number; runner: string; bundle: string };
  t.equal(result.value, 42);
  t.equal(result.runner, join(project, 'node_modules', '@lzy', 'node-agent', 'dist', 'src', 'runner.js'), 'the runner is the installed one');
  t.match(result.bundle, /\/[0-9a-f]{64}\.mjs$/, 'the op ran from its bundle');

  const status = await run('npx', ['lzy', 'status', '--json'], { cwd: project });
  const runs = JSON.parse(status.stdout.trim()) as Array<{ name: string; status: string }>;
  t.match(runs, [{ name: 'packed', status: 'finished' }], 'npx lzy status lists the run');
});
