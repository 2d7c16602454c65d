import { createHash } from 'node:crypto';
import { realpathSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { RuntimeError } from './protocol/errors.js';
import { readRuntimeInfo, type RuntimeInfo } from './runtime-info.js';

/**
 * The exclusive hold of one runtime on its data dir, for the runtime's whole life: two runtimes on
 * one data dir would journal the same actors under the same keys and lose each other's events.
 * The kernel lets go of it when the process dies, SIGKILL included, so no stale lock is left.
 *
 * On Linux it is an abstract-namespace Unix socket, named after the data dir's identity (device,
 * inode and real path): binding it is holding the lock; EADDRINUSE means a live process holds it.
 * Not after the user's id: two users' runtimes on one data dir must exclude each other too (the
 * second is then told who holds it instead of starting). Elsewhere (macOS) it is a socket file,
 * `DATA_DIR/runtime.lock`: a file nobody listens on (connect answers ECONNREFUSED) was left by a
 * process that died, and is removed before binding again. Two processes doing that at the same
 * moment may each remove the file the other just bound and both hold the lock: a small race that
 * the abstract socket on Linux does not have.
 */
export class DataDirLock {
  private constructor(private readonly server: Server) {}

  /** Takes the lock of `dataDir`, an existing folder; `undefined` when a live process holds it. */
  static async acquire(dataDir: string): Promise<DataDirLock | undefined> {
    if (process.platform === 'linux') return DataDirLock.bind(abstractName(dataDir));
    const file = join(dataDir, 'runtime.lock');
    const lock = await DataDirLock.bind(file);
    if (lock || (await probeSocket(file)) !== 'absent') return lock;
    rmSync(file, { force: true });
    return DataDirLock.bind(file);
  }

  /** Listens on `path`: the lock when that works, `undefined` when the address is taken. */
  private static bind(path: string): Promise<DataDirLock | undefined> {
    // Nothing is said on the lock's socket: a connection (a macOS probe) is dropped at once.
    const server = createServer((socket) => socket.destroy());
    return new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error)));
      server.listen({ path }, () => {
        // The lock alone does not keep the process alive.
        server.unref();
        resolve(new DataDirLock(server));
      });
    });
  }

  /** Lets go of the data dir: another runtime may start on it once this resolves. */
  release(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function abstractName(dataDir: string): string {
  const real = realpathSync(dataDir);
  const { dev, ino } = statSync(real);
  const id = createHash('sha256').update(`${dev}\0${ino}\0${real}`).digest('hex');
  return `\0lzy-data-dir-${id}`;
}

/**
 * Whether the Unix socket at `path` takes this user's connections: `absent` when nobody listens on
 * it (no file, or one left by a process that died), `forbidden` when it is another user's.
 */
export function probeSocket(path: string): Promise<'open' | 'absent' | 'forbidden'> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EACCES' || error.code === 'EPERM' ? 'forbidden' : 'absent'));
  });
}

/** `Runtime.start` found its data dir held by the runtime of another live process. */
export class DataDirHeldError extends RuntimeError {
  constructor(
    readonly dataDir: string,
    /** What the holder wrote in `DATA_DIR/runtime.json`, if it has yet. */
    readonly holder: RuntimeInfo | undefined,
  ) {
    super(
      'DATA_DIR_HELD',
      `the data dir ${dataDir} is in use by the runtime of another process${holder ? ` (pid ${holder.pid})` : ''}: a data dir has one runtime at a time; stop that process, or use another data dir`,
    );
    this.name = 'DataDirHeldError';
  }

  /** The error for `dataDir`, naming its holder when `runtime.json` says who it is. */
  static of(dataDir: string): DataDirHeldError {
    let holder: RuntimeInfo | undefined;
    try {
      holder = readRuntimeInfo(dataDir);
    } catch {
      holder = undefined;
    }
    return new DataDirHeldError(dataDir, holder);
  }
}
