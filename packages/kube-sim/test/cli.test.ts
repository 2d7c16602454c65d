// The lzy-kube-sim command as a real process: serving and the kubeconfig, usage errors, and SIGTERM stopping everything it started.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { alive, KUBECTL, kubectl, nodeAgentPids, startRuntimeStandIn, tempDir, waitUntil } from './harness.js';

const BIN = fileURLToPath(new URL('../../bin/lzy-kube-sim.js', import.meta.url));
const skipKubectl = KUBECTL ? false : 'no kubectl binary on this machine (install Debian’s kubernetes-client)';

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listening(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Run {
  child: ChildProcess;
  exited: Promise<number | null>;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  // 'close', not 'exit': by then its stdout and stderr are read to the end.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, exited };
}

/** Starts lzy-kube-sim, killed after the test if it is still running; resolves once its kubeconfig exists. */
async function startCli(t: Parameters<typeof tempDir>[0], args: string[]): Promise<Run & { kubeconfigPath: string; port: number }> {
  const kubeconfigPath = join(tempDir(t), 'kubeconfig');
  const port = await freePort();
  const started = run(['--port', String(port), '--kubeconfig', kubeconfigPath, ...args]);
  t.teardown(() => void (started.child.exitCode === null && started.child.kill('SIGKILL')));
  await waitUntil(() => existsSync(kubeconfigPath), 'the kubeconfig');
  return { ...started, kubeconfigPath, port };
}

t.test('lzy-kube-sim serves on the given port, writes a kubeconfig once ready, and kubectl lists the pools’ nodes', { skip: skipKubectl }, async (t) => {
  const sim = await startCli(t, ['--pool', 'cpu=2', '--pool', 'gpu=1']);
  t.match(readFileSync(sim.kubeconfigPath, 'utf8'), `http://127.0.0.1:${sim.port}`);
  const nodes = async (pool: string) => (await kubectl(sim, ['get', 'nodes', '-l', `lzy.dev/pool=${pool}`, '-o', 'name'])).trim().split('\n');
  t.equal((await nodes('cpu')).length, 2);
  t.equal((await nodes('gpu')).length, 1);
  sim.child.kill('SIGTERM');
  t.equal(await sim.exited, 0, 'SIGTERM ends it cleanly');
});

t.test('bad arguments exit with status 2 and say what is wrong', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--kubeconfig', '/tmp/k', '--pool', 'cpu=1'], /--port PORT is required/],
    [['--port', '0', '--pool', 'cpu=1'], /--kubeconfig FILE is required/],
    [['--port', 'x', '--kubeconfig', '/tmp/k'], /--port PORT is required/],
    [['--port', '0', '--kubeconfig', '/tmp/k', '--pool', 'cpu'], /--pool must be NAME=COUNT, got 'cpu'/],
    [['--port', '0', '--kubeconfig', '/tmp/k', '--service', 'lzy-runtime=127.0.0.1:1'], /--service must be NAME.NAMESPACE=HOST:PORT, got 'lzy-runtime=127.0.0.1:1'/],
    [['--port', '0', '--kubeconfig', '/tmp/k', '--nodes', '3'], /Unknown option '--nodes'/],
  ];
  await Promise.all(
    cases.map(async ([args, message]) => {
      const started = run(args);
      let stderr = '';
      started.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      t.equal(await started.exited, 2, args.join(' '));
      t.match(stderr, message);
      t.match(stderr, /usage: lzy-kube-sim --port PORT --kubeconfig FILE --pool NAME=COUNT/);
    }),
  );
});

t.test('npx lzy-kube-sim runs the command', async (t) => {
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = execFile('npx', ['--no-install', 'lzy-kube-sim', '--pool', 'cpu=1'], (error, _stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }));
    child.stdin?.end();
  });
  t.equal(code, 2);
  t.match(stderr, /lzy-kube-sim: --port PORT is required/);
});

t.test('SIGTERM stops lzy-kube-sim and the real node-agent process it started for a leased node', { skip: skipKubectl }, async (t) => {
  const { port: runtimePort, dials } = await startRuntimeStandIn(t);
  const sim = await startCli(t, ['--pool', 'cpu=2', '--real-agents', '--service', `lzy-runtime.lzy-system=127.0.0.1:${runtimePort}`]);
  const manifest = join(tempDir(t), 'agents.json');
  const agents = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lzy-agents' } },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'lzy-node-agent', namespace: 'lzy-agents' },
        spec: {
          selector: { matchLabels: { app: 'lzy-node-agent' } },
          template: {
            metadata: { labels: { app: 'lzy-node-agent' } },
            spec: {
              nodeSelector: { 'lzy.dev/leased': 'true' },
              containers: [{ name: 'agent', image: 'lzy/node-agent:0.1.0', args: ['--server', 'ws://lzy-runtime.lzy-system.svc:8080', '--token', 't', '--slots', '1'] }],
            },
          },
        },
      },
    ],
  };
  writeFileSync(manifest, JSON.stringify(agents));
  await kubectl(sim, ['apply', '-f', manifest]);
  const leased = (await kubectl(sim, ['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  t.same(nodeAgentPids(sim.child.pid!), [], 'no agent process before a node is leased');
  await kubectl(sim, ['label', 'node', leased, 'lzy.dev/leased=true']);
  await waitUntil(() => dials.length > 0, 'the agent process to dial the runtime through its Service name');
  const agentPids = nodeAgentPids(sim.child.pid!);
  t.equal(agentPids.length, 1, 'one agent process, for the one leased node');

  sim.child.kill('SIGTERM');
  t.equal(await sim.exited, 0);
  t.notOk(agentPids.some(alive), 'the agent process is gone');
  await waitUntil(() => dials.every((dial) => dial.closed), 'the agent’s connection to close');
});
