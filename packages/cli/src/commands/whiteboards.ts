import { Command, Option } from 'commander';
import { readWhiteboards, type StoredWhiteboard } from '@lzy/sdk';
import { usageError } from '../cli-error.js';
import { openTarget, withTarget, type TargetOptions } from '../target.js';

interface WhiteboardsOptions extends TargetOptions {
  name?: string;
  tag: string[];
  since?: string;
  until?: string;
  json?: boolean;
}

/** `lzy whiteboards`: your tenant's finalized whiteboards, newest first. */
export function whiteboardsCommand(): Command {
  return withTarget(
    new Command('whiteboards')
      .description("list your tenant's whiteboards (newest first), with their fields' values")
      .option('--name <name>', 'only whiteboards of this name')
      .addOption(new Option('--tag <tag>', 'only whiteboards with this tag (repeat: all of them)').argParser(collect).default([]))
      .option('--since <time>', 'created at or after this time (ISO 8601, e.g. 2026-11-27 or 2026-11-27T10:00Z)')
      .option('--until <time>', 'created before this time (ISO 8601)')
      .option('--json', 'print JSON: a list of whiteboards with their fields'),
  ).action((options: WhiteboardsOptions) => whiteboards(options));
}

async function whiteboards(options: WhiteboardsOptions): Promise<void> {
  const filter = {
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.tag.length === 0 ? {} : { tags: options.tag }),
    ...(options.since === undefined ? {} : { since: timeOf(options.since, '--since') }),
    ...(options.until === undefined ? {} : { until: timeOf(options.until, '--until') }),
  };
  const target = await openTarget(options);
  let found: StoredWhiteboard[];
  try {
    found = await readWhiteboards(target.connection, filter);
  } finally {
    await target.close();
  }
  process.stdout.write(options.json ? `${JSON.stringify(found, jsonValue)}\n` : table(found));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function timeOf(text: string, flag: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw usageError(`${flag} ${text} is not a time`, 'give an ISO 8601 date or time, e.g. 2026-11-27 or 2026-11-27T10:00:00Z');
  return ms;
}

/** Field values as JSON can hold them: Maps as objects, Sets as arrays, BigInts as strings, bytes as base64. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), v]));
  if (value instanceof Set) return [...value];
  if (value instanceof Uint8Array) return { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  return value;
}

function table(found: StoredWhiteboard[]): string {
  if (found.length === 0) return 'no whiteboards\n';
  const lines: string[] = [];
  for (const board of found) {
    const tags = board.tags.length > 0 ? ` [${board.tags.join(', ')}]` : '';
    lines.push(`${board.name}${tags}  ${board.createdAt.toISOString()}  workflow ${board.workflowName} (${board.workflowId})`);
    for (const [field, value] of Object.entries(board.fields)) lines.push(`  ${field}: ${preview(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A value on one line, cut at 120 characters. */
function preview(value: unknown): string {
  const text = JSON.stringify(value, jsonValue) ?? String(value);
  return text.length <= 120 ? text : `${text.slice(0, 119)}…`;
}
