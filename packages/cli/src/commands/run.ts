import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { formatOpLog, Lzy } from '@lzy/sdk';
import { usageError } from '../cli-error.js';
import { ProgressTracker } from '../progress-tracker.js';
import { ProgressView } from '../progress-view.js';
import { openTarget, withTarget, type TargetOptions } from '../target.js';

/** What `lzy run FILE` runs: the module's default export. */
type WorkflowProgram = (lzy: Lzy) => unknown;

/** `lzy run FILE`: runs a workflow program, shows progress on stderr, prints its result as JSON on stdout. */
export function runCommand(): Command {
  return withTarget(
    new Command('run')
      .description("run a workflow program: a module whose default export is an async function taking the Lzy client; its result is printed as JSON")
      .argument('<file>', 'the program, e.g. main.js'),
  ).action((file: string, options: TargetOptions) => run(file, options));
}

async function run(file: string, options: TargetOptions): Promise<void> {
  const program = await load(file);
  const target = await openTarget(options);
  const view = new ProgressView(process.stderr);
  const connection = new ProgressTracker(target.connection, (name, progress) => view.show(name, progress));
  const lzy = Lzy.over(connection, { onLog: (line) => view.print(formatOpLog(line)) });
  try {
    const result = await program(lzy);
    view.clear();
    process.stdout.write(`${JSON.stringify(result ?? null, jsonSafe)}\n`);
  } finally {
    view.clear();
    await target.close();
  }
}

async function load(file: string): Promise<WorkflowProgram> {
  const path = resolve(file);
  if (!existsSync(path)) throw usageError(`no such file: ${file}`, 'lzy run FILE takes the path of a workflow program, e.g. main.js');
  const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  if (typeof module.default !== 'function') {
    throw usageError(`${file} has no default export function`, 'write `export default async function (lzy) { return lzy.workflow(...) }`');
  }
  return module.default as WorkflowProgram;
}

/** JSON for what JSON cannot hold as is: BigInts as strings, Maps as objects, Sets as arrays. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}
