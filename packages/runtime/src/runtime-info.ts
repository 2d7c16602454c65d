import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { compileChecker } from '@lzy/actors';

/**
 * What `DATA_DIR/runtime.json` says of the runtime that holds the data dir: another process on the
 * same data dir reads it to join that runtime over its socket, `DATA_DIR/runtime.sock`, or to say
 * why it cannot. Written once the socket listens, removed when the runtime closes; a runtime that
 * was killed leaves it behind, and its socket then refuses connections.
 */
export const RuntimeInfo = Type.Object({
  pid: Type.Integer(),
  /** The user the runtime runs as (-1 where the platform has none). */
  uid: Type.Integer(),
  /** The `@lzy/runtime` package version. */
  version: Type.String(),
  /** The version of what is said on the socket (the gateway's client protocol). */
  protocol: Type.Integer(),
  socket: Type.String(),
});
export type RuntimeInfo = Static<typeof RuntimeInfo>;

/** Bumped when what a client says on the data dir's socket changes incompatibly. */
export const LOCAL_PROTOCOL_VERSION = 1;

/** This `@lzy/runtime` package's version: a client joins only a runtime of the same version. */
export const RUNTIME_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const checker = compileChecker(RuntimeInfo);
const infoFile = (dataDir: string) => join(dataDir, 'runtime.json');

/** Where the runtime holding `dataDir` listens for the other processes of its user. */
export function runtimeSocketPath(dataDir: string): string {
  return join(dataDir, 'runtime.sock');
}

/** What `DATA_DIR/runtime.json` says; `undefined` when there is none (yet). Throws when it is not a runtime's. */
export function readRuntimeInfo(dataDir: string): RuntimeInfo | undefined {
  let text: string;
  try {
    text = readFileSync(infoFile(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const info: unknown = JSON.parse(text);
  if (!checker.check(info)) throw new Error(`${infoFile(dataDir)} is not what a runtime writes: ${checker.explain(info)}`);
  return info;
}

/** Writes `DATA_DIR/runtime.json` whole (readable by all: it says who holds the data dir, and grants nothing). */
export function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): void {
  const file = infoFile(dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(info)}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

/** Removes `DATA_DIR/runtime.json` if it is still this process's. */
export function removeRuntimeInfo(dataDir: string): void {
  try {
    if (readRuntimeInfo(dataDir)?.pid === process.pid) rmSync(infoFile(dataDir), { force: true });
  } catch {
    // Not ours to remove.
  }
}
