import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The browser build of dagre (`@dagrejs/dagre`, one self-contained script that defines the global
 * `dagre`), which lays out a run's graph on the dashboard: a layered layout of a DAG, synchronous,
 * ~50 kB. Read from the installed package on first use and kept; the package exports no path to
 * it, so it is found beside the package's `package.json`.
 */
let script: string | undefined;

/** The text of dagre's browser build. */
export function layoutLibScript(): string {
  if (script === undefined) {
    const manifest = createRequire(import.meta.url).resolve('@dagrejs/dagre/package.json');
    // Its source map is not served: the comment naming it would only make the browser ask for it.
    script = readFileSync(join(dirname(manifest), 'dist', 'dagre.min.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
  }
  return script;
}
