import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { protocolErrors, Remoting, spawnActor, startActorSystem, tell } from '@lzy/actors';
import { agentLog } from './agent-log.js';
import type { AgentOptions } from './args.js';
import { Attempts } from './attempts.js';
import { httpAddressOf, type NodeStorage } from './blob-io.js';
import { BundleCache } from './bundle-cache.js';
import { AGENT_PATH, AgentWire, joinCredential, kubeCredential, NODES_PATH, STORAGE_PATH, type AgentMsg, type NodesWireMsg } from './protocol/agent.js';
import { Reporter } from './reporter.js';
import { RunnerPool } from './runner-pool.js';

/** Exit codes of the agent process. */
export const EXIT = { ok: 0, lostServer: 1, usage: 2, refused: 3 } as const;

/** Heartbeat intervals without a connection after which the agent gives up. */
const LOST_AFTER_BEATS = 10;
/** How long closing the connection may take when the agent exits. */
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * Runs a node-agent until it is done: connects to the runtime with its token, registers its slots,
 * sends heartbeats, and runs the attempts it is sent in runner processes. Once leased, its
 * connection's credential is the worker token its lease gives it, renewed on the open connection. Resolves with the exit code:
 * 0 after a `shutdown` message or SIGTERM/SIGINT once running attempts have finished, 1 when the
 * server is gone (no connection for 10 heartbeat intervals, or it refused to take the agent back
 * after a disconnection), 3 when the server refused the first handshake.
 */
export async function runAgent(options: AgentOptions): Promise<number> {
  const log = await agentLog(options.logLevel);
  const warn = (line: string) => log.warn(line);
  let exitCode: number | undefined;
  let exit!: (code: number) => void;
  const done = new Promise<number>((resolve) => (exit = resolve));
  const finish = (code: number) => {
    exitCode ??= code;
    exit(exitCode);
  };
  const onProtocolError = (report: unknown) => {
    const { peer, message } = report as { peer: string; message: string };
    warn(`connection to ${peer}: ${message}`);
  };
  protocolErrors.subscribe(onProtocolError);

  const system = startActorSystem({ name: `node-agent-${process.pid}` });
  const remoting = new Remoting({ name: `node-agent-${process.pid}` });
  // Connecting takes I/O: the agent actor below is exposed before any message can arrive.
  const peer = remoting.connect(options.server, { auth: credentialOf(options, warn), whileDisconnected: 'queue' });
  const nodes = peer.ref<NodesWireMsg>(NODES_PATH);
  const storage: NodeStorage = { ref: peer.ref(STORAGE_PATH), http: httpAddressOf(options.server) };
  const pool = new RunnerPool(options.slots, warn);
  const send = (message: NodesWireMsg) => {
    try {
      tell(nodes, message);
    } catch (error) {
      const what = message.type === 'report' ? `a report of ${message.finished.length} result(s) and ${message.logs.length} log chunk(s)` : message.type;
      warn(`could not send ${what} to the server: ${(error as Error).message}`);
    }
  };
  const reporter = new Reporter(send);
  // Without a cache dir of its own choosing the agent keeps bundles in a temporary one, and removes it on its way out.
  const cacheDir = options.cacheDir === undefined ? mkdtempSync(join(tmpdir(), 'lzy-agent-')) : resolve(options.cacheDir);
  const bundles = new BundleCache(cacheDir, storage);
  const attempts = new Attempts({ pool, storage, bundles, files: join(cacheDir, 'files'), reporter }, () => finish(EXIT.ok), log);
  const agent = spawnActor<undefined, AgentMsg>(system, {
    name: 'agent',
    initialState: () => undefined,
    supervision: 'resume',
    receive: (state, message) => {
      // The connection's credential becomes the worker token of the lease, renewed with each fresh one.
      if (message.type === 'leased') peer.reauthenticate(message.token).catch((error: Error) => warn(`the server did not take this node's worker token: ${error.message}`));
      attempts.handle(message);
      return state;
    },
  });
  remoting.expose(AGENT_PATH, agent, { schema: AgentWire });

  let registered = false;
  peer.ready.then(
    () => {
      pool.warm();
      send({ type: 'register', slots: options.slots, pid: process.pid });
      registered = true;
      log.info('registered', { server: options.server, slots: options.slots, ...(options.pool === undefined ? {} : { pool: options.pool }) });
    },
    (error: Error) => {
      // Closing the connection on the way out rejects `ready` too: that is no refusal.
      if (exitCode !== undefined) return;
      warn(`the server at ${options.server} refused this agent${options.pod ? ` (${options.pod})` : ''}: ${error.message}`);
      finish(EXIT.refused);
    },
  );
  // Heartbeats while connected; without a connection for LOST_AFTER_BEATS intervals the runtime has
  // counted this node as lost (its default heartbeat timeout), so the agent leaves.
  let lastOpen = performance.now();
  const ticker = setInterval(() => {
    if (peer.state === 'open') {
      lastOpen = performance.now();
      if (!registered) return;
      send({ type: 'heartbeat', running: attempts.running() });
    } else if (peer.state === 'closed') {
      // Before registering, a closed peer was refused: `ready` rejected and reports it.
      if (!registered) return;
      warn(`lost the connection to ${options.server}, which did not take this agent back; exiting`);
      finish(EXIT.lostServer);
    } else if (performance.now() - lastOpen > LOST_AFTER_BEATS * options.heartbeatMs) {
      warn(`no connection to ${options.server} for ${LOST_AFTER_BEATS} heartbeat intervals; exiting`);
      finish(EXIT.lostServer);
    }
  }, options.heartbeatMs);
  const shutdown = () => attempts.shutdown();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  const code = await done;
  log.info('exiting', { code });
  reporter.flush();
  clearInterval(ticker);
  process.off('SIGTERM', shutdown);
  process.off('SIGINT', shutdown);
  pool.close();
  await Promise.race([remoting.close(), new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())]);
  system.stop();
  protocolErrors.unsubscribe(onProtocolError);
  if (options.cacheDir === undefined) rmSync(cacheDir, { recursive: true, force: true });
  return code;
}

/**
 * The handshake credential: a static pool's agent presents the pool's join token; a node the
 * runtime started, its one-time token; a Kubernetes agent, its pod's projected token, read at
 * each dial (the kubelet rotates it; an unreadable file keeps the last token read).
 */
function credentialOf(options: AgentOptions, warn: (line: string) => void): string | (() => string) {
  const { credential } = options;
  if ('token' in credential) return options.pool === undefined ? credential.token : joinCredential(options.pool, credential.token);
  let last = '';
  return () => {
    try {
      last = readFileSync(credential.tokenFile, 'utf8').trim();
    } catch (error) {
      warn(`cannot read the token file ${credential.tokenFile}: ${(error as Error).message}${last ? '; sending the last token read' : ''}`);
    }
    return kubeCredential(last);
  };
}
