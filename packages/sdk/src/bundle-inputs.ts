import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join, sep } from 'node:path';

interface FileVersion {
  path: string;
  version: string;
}

/**
 * The local files a bundle was built from, and whether one changed since. Files of the op
 * module's own package (up to its nearest package.json) are stat'd at each check, so that an edit
 * a program makes right before its next run is seen by that run. Files of the other local
 * packages it imports (a workspace's packages, linked into node_modules) are watched instead: a
 * check costs nothing until one of them changes, and their edits come from an editor or a build,
 * not from the program itself in the turn before it submits (a watcher hears of a write a turn or
 * two after it). A file that cannot be watched is stat'd.
 */
export class BundleInputs {
  private readonly watchers: FSWatcher[] = [];
  private watchedChanged = false;

  private constructor(private readonly checked: FileVersion[]) {}

  /** The inputs `paths` of the bundle of the op module at `modulePath`, as they are now. */
  static of(modulePath: string, paths: string[]): BundleInputs {
    const root = packageDirOf(dirname(modulePath));
    const own = (path: string) => root === undefined || path.startsWith(root + sep);
    const checked = paths.filter(own).map((path) => ({ path, version: versionOf(path) ?? '' }));
    const inputs = new BundleInputs(checked);
    for (const path of paths.filter((path) => !own(path))) inputs.watch(path);
    return inputs;
  }

  /** None: a module that did not bundle is built again at its next use. */
  static none(): BundleInputs {
    return new BundleInputs([]);
  }

  /** Whether a file changed since the bundle was built (a file that is gone keeps the bundle: it is the code this process runs too). */
  changed(): boolean {
    if (this.watchedChanged || (this.checked.length === 0 && this.watchers.length === 0)) return true;
    return this.checked.some(({ path, version }) => {
      const now = versionOf(path);
      return now !== undefined && now !== version;
    });
  }

  /** Stops watching: the bundle was built again. */
  close(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
  }

  private watch(path: string): void {
    const version = versionOf(path);
    if (version === undefined) return;
    try {
      const watcher = watch(path, { persistent: false }, () => (this.watchedChanged = true));
      watcher.on('error', () => (this.watchedChanged = true));
      this.watchers.push(watcher);
    } catch {
      this.checked.push({ path, version });
    }
  }
}

/** What tells a change of a file: its size, modification time in ns and inode; undefined when it is gone. */
function versionOf(path: string): string | undefined {
  const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stats && `${stats.size}:${stats.mtimeNs}:${stats.ino}`;
}

/** The directory of the nearest package.json at or above `dir`, if any. */
function packageDirOf(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'package.json'))) return at;
    if (dirname(at) === at) return undefined;
  }
}
