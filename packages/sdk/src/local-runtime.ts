import { resolve } from 'node:path';
import { unixSocketPathFits, type PeerState } from '@lzy/actors';
import type { PoolConfig, Role, Runtime, RuntimeConnection, RuntimeInfo, StorageOptions } from '@lzy/runtime';
import { DataDirInUseError } from './errors.js';
import { RemoteConnection } from './remote-connection.js';

type RuntimeModule = typeof import('@lzy/runtime');

/** Options of `openLocalRuntime`. */
export interface LocalRuntimeOptions {
  /** Default `./.lzy`, or `LZY_HOME`. */
  dataDir?: string;
  /** The pools of a runtime this process starts; a joined runtime keeps its own. */
  pools?: PoolConfig[];
  /** The storage of a runtime this process starts; a joined runtime keeps its own. */
  storage?: StorageOptions;
}

/** The embedded runtime of a data dir as one process uses it: running in this process, or in another one that this one joined. */
export interface LocalRuntime {
  /** A connection as the local tenant (an admin). */
  readonly connection: RuntimeConnection;
  issueToken(tenant: string, role: Role): Promise<string>;
  /** Closes the connection, and the runtime if it runs in this process (a process that joined it then takes the data dir over). */
  close(): Promise<void>;
}

/** How long a process waits for the runtime holding its data dir to answer on the socket: it may be starting. */
const JOIN_WAIT_MS = 30_000;

/** Reconnecting to a socket on this machine is cheap: a new holder is found soon after it listens. */
const LOCAL_RECONNECT = { initialDelayMs: 20, maxDelayMs: 500 };

/**
 * The runtime of the data dir (`dataDir`, `LZY_HOME` or `./.lzy`): one data dir has one runtime,
 * in the process that holds the data dir's lock. This process starts it when it gets the lock;
 * otherwise it joins the holder over the data dir's socket, waiting (bounded) while the holder is
 * still starting. When the holder goes away first, a joined process takes the data dir over (see
 * `JoinedRuntime`). Rejects with `DataDirInUseError`, having written nothing, where joining is
 * impossible: the holder is another user's, or of another runtime version.
 */
export async function openLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const runtimes = await import('@lzy/runtime');
  const dataDir = resolve(options.dataDir ?? process.env.LZY_HOME ?? './.lzy');
  const start = () => startUnlessHeld(runtimes, { ...options, dataDir });
  const deadline = Date.now() + JOIN_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    const runtime = await start();
    if (runtime) return ownRuntime(runtime);
    const joined = await JoinedRuntime.join(runtimes, dataDir, start);
    if (joined) return joined;
    if (Date.now() > deadline) {
      throw new DataDirInUseError(dataDir, holderOf(runtimes, dataDir)?.pid, `it did not answer on its socket within ${JOIN_WAIT_MS / 1000} s`);
    }
    await backoff(attempt);
  }
}

/** The runtime started on the data dir, or `undefined` when another process's runtime holds it. */
async function startUnlessHeld(runtimes: RuntimeModule, options: LocalRuntimeOptions & { dataDir: string }): Promise<Runtime | undefined> {
  try {
    return await runtimes.Runtime.start(options);
  } catch (error) {
    if (error instanceof runtimes.DataDirHeldError) return undefined;
    throw error;
  }
}

async function ownRuntime(runtime: Runtime): Promise<LocalRuntime> {
  const connection = runtime.connect(await runtime.iam.issueToken('local', 'admin'));
  return {
    connection,
    issueToken: (tenant, role) => runtime.iam.issueToken(tenant, role),
    close: async () => {
      connection.close();
      await runtime.close();
    },
  };
}

/**
 * A client of the runtime of another process over the data dir's socket. When that process goes
 * away (it closed, or died) while this one is still open, this one tries to take the data dir
 * over: the process that gets the lock starts the runtime, which resumes the runs from the
 * journal, and every joined process (this one too, through the socket) reconnects to it; each run
 * it follows is watched again and replays its results, so its `await` still gets them.
 */
class JoinedRuntime implements LocalRuntime {
  connection!: RemoteConnection;
  /** The runtime this process started when it took the data dir over. */
  private runtime: Runtime | undefined;
  private state: PeerState = 'connecting';
  private takingOver: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly dataDir: string,
    private readonly start: () => Promise<Runtime | undefined>,
  ) {}

  /** Joins the runtime that `runtime.json` names; `undefined` when it does not answer (not up yet, or gone). */
  static async join(runtimes: RuntimeModule, dataDir: string, start: () => Promise<Runtime | undefined>): Promise<JoinedRuntime | undefined> {
    const info = holderOf(runtimes, dataDir);
    if (!info) return undefined;
    if (!unixSocketPathFits(info.socket)) {
      throw new DataDirInUseError(dataDir, info.pid, `the path of its socket, ${info.socket}, is too long for a Unix socket; use a data dir with a shorter path`);
    }
    const socket = await runtimes.probeSocket(info.socket);
    if (socket === 'forbidden') throw new DataDirInUseError(dataDir, info.pid, `its socket ${info.socket} belongs to another user (uid ${info.uid})`);
    if (socket === 'absent') return undefined;
    if (info.version !== runtimes.RUNTIME_VERSION || info.protocol !== runtimes.LOCAL_PROTOCOL_VERSION) {
      throw new DataDirInUseError(
        dataDir,
        info.pid,
        `it runs @lzy/runtime ${info.version} (protocol ${info.protocol}), this program has ${runtimes.RUNTIME_VERSION} (protocol ${runtimes.LOCAL_PROTOCOL_VERSION})`,
      );
    }
    const joined = new JoinedRuntime(dataDir, start);
    try {
      joined.connection = await RemoteConnection.open({
        endpoint: `ws+unix:${info.socket}:/`,
        // The socket's permissions are the credential: whatever is sent, its peers are the local admin.
        token: 'local',
        connectTimeoutMs: 5_000,
        reconnect: LOCAL_RECONNECT,
        onState: (state) => joined.onState(state),
      });
    } catch {
      joined.closed = true;
      return undefined;
    }
    return joined;
  }

  issueToken(tenant: string, role: Role): Promise<string> {
    return this.connection.issueToken(tenant, role);
  }

  private onState(state: PeerState): void {
    this.state = state;
    if (state === 'reconnecting' && !this.closed) this.takingOver ??= this.takeOver().finally(() => (this.takingOver = undefined));
  }

  /** Tries the lock until this process runs the runtime, or the connection is back (another process took over). */
  private async takeOver(): Promise<void> {
    for (let attempt = 0; !this.closed && !this.runtime && this.state !== 'open'; attempt++) {
      let runtime: Runtime | undefined;
      try {
        runtime = await this.start();
      } catch (error) {
        process.stderr.write(`lzy: could not take over the data dir ${this.dataDir}: ${(error as Error).message}\n`);
        return;
      }
      if (runtime && this.closed) await runtime.close();
      else if (runtime) this.runtime = runtime;
      else await backoff(attempt);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connection.close();
    await this.takingOver;
    await this.runtime?.close();
  }
}

/** What the data dir's `runtime.json` says; `undefined` when there is none (yet) or it cannot be read as a runtime's. */
function holderOf(runtimes: RuntimeModule, dataDir: string): RuntimeInfo | undefined {
  try {
    return runtimes.readRuntimeInfo(dataDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES') throw new DataDirInUseError(dataDir, undefined, 'this user may not read its runtime.json');
    return undefined;
  }
}

function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(500, 10 * 2 ** attempt)));
}
