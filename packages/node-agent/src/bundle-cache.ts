import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readBlob, type NodeStorage } from './blob-io.js';
import type { BundleRef } from './protocol/bundle.js';

/**
 * The op-module bundles of an agent, on disk as `<dir>/<sha256>.mjs`. A bundle is fetched from
 * storage once per hash however many attempts ask for it at once, checked against its hash, and
 * written to a temporary file renamed into place, so neither concurrent attempts nor a crash ever
 * leave a partial file under a bundle's name. A file already there (written by this agent or by
 * another agent sharing the directory) was checked when it was written, and is used as it is.
 */
export class BundleCache {
  private readonly loading = new Map<string, Promise<string>>();
  /** The `file:` URLs of the bundles on disk already, by hash: an attempt of one needs no promise. */
  private readonly present = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly storage: NodeStorage,
  ) {}

  /** The `file:` URL of the bundle `ref` on this node, fetched first if needed. */
  fileOf(ref: BundleRef): Promise<string> {
    let file = this.loading.get(ref.hash);
    if (!file) {
      file = this.load(ref);
      this.loading.set(ref.hash, file);
      // A failed fetch (storage down, bad bytes) is not remembered: the next attempt tries again.
      file.then(
        (url) => this.present.set(ref.hash, url),
        () => this.loading.delete(ref.hash),
      );
    }
    return file;
  }

  /** The `file:` URL of the bundle `ref` if it is on this node already, else undefined. */
  presentFileOf(ref: BundleRef): string | undefined {
    return this.present.get(ref.hash);
  }

  private async load(ref: BundleRef): Promise<string> {
    const path = join(this.dir, `${ref.hash}.mjs`);
    const url = pathToFileURL(path).href;
    if (await exists(path)) return url;
    const bytes = await readBlob(this.storage, ref);
    await mkdir(this.dir, { recursive: true });
    const temp = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(temp, bytes, { flag: 'wx' });
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return url;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
