// The storage bench: one op writes a 1 GiB file value and the next reads it and hashes it, on the
// embedded runtime with 2 local node-agents, through the file store and through S3 (the S3 test
// server: s3rver behind its signature-verifying front, on 127.0.0.1), each beside a bare baseline
// measured in the same run that does the same writing and hashing around the bare transfer.
//
//   file-1gib         MB/s of the workflow, vs writing the same bytes to a file, copying it file
//                     to file with streams, and hashing the copy
//   s3-1gib           MB/s of the workflow, vs writing the same bytes to a file, a bare SDK
//                     multipart put of it (64 MiB parts, streamed) and a get of it to a file, and
//                     hashing that file, against the same server
//   agent-peak-rss    MiB, the largest peak RSS of a node-agent in either run (baseline and
//                     ratio against the 200 MiB goal)
//   runtime-peak-rss  MiB, the largest peak RSS of the process of the embedded runtime (with its
//                     client) in either run (likewise)
//
// Each workflow runs in a process of its own (storage-run.ts), so that its peak RSS is not the
// baselines'. LZY_BENCH_QUICK=1 moves 8 MiB instead.
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { randomKey, startS3TestServer } from '@lzy/s3-test-server';
import { sha256OfFile, writeBenchFile } from './storage-ops.js';
import { fmt, latencyResult, log, now, rateResult, type Result } from './util.js';

const RUN = fileURLToPath(new URL('./storage-run.js', import.meta.url));
const PART_BYTES = 64 * 1024 * 1024;
/** The goal of both RSS figures, in MiB: their baseline. */
const RSS_GOAL_MIB = 200;

interface WorkflowRun {
  ms: number;
  sha256: string;
  runtimePeakMib: number;
  agentPeakMib: number;
}

async function runWorkflow(root: string, name: string, mib: number, storage?: object): Promise<WorkflowRun> {
  const dir = mkdtempSync(join(root, `${name}-`));
  const { stdout } = await promisify(execFile)(process.execPath, [RUN, JSON.stringify({ dataDir: join(dir, 'data'), dir, mib, storage })], { maxBuffer: 1024 * 1024 });
  rmSync(dir, { recursive: true, force: true });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as WorkflowRun;
}

/** MB/s of moving `bytes` in `ms`. */
function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

async function fileBaseline(root: string, mib: number): Promise<{ ms: number; sha256: string }> {
  const started = now();
  const source = join(root, 'baseline-source.bin');
  const copy = join(root, 'baseline-copy.bin');
  await writeBenchFile(source, mib);
  await pipeline(createReadStream(source), createWriteStream(copy));
  const sha256 = await sha256OfFile(copy);
  const ms = now() - started;
  rmSync(source);
  rmSync(copy);
  return { ms, sha256 };
}

async function s3Baseline(root: string, client: S3Client, bucket: string, mib: number): Promise<{ ms: number; sha256: string }> {
  const started = now();
  const source = join(root, 'baseline-source.bin');
  const copy = join(root, 'baseline-get.bin');
  await writeBenchFile(source, mib);
  const size = statSync(source).size;
  const Key = 'baseline/bench.bin';
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
  const Parts = [];
  for (let offset = 0, PartNumber = 1; offset < size; offset += PART_BYTES, PartNumber++) {
    const length = Math.min(PART_BYTES, size - offset);
    const Body = createReadStream(source, { start: offset, end: offset + length - 1 });
    const { ETag } = await client.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber, Body, ContentLength: length }));
    Parts.push({ PartNumber, ETag });
  }
  await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts } }));
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
  await pipeline(got.Body as Readable, createWriteStream(copy));
  const sha256 = await sha256OfFile(copy);
  const ms = now() - started;
  rmSync(source);
  rmSync(copy);
  return { ms, sha256 };
}

export async function run({ quick }: { quick: boolean }): Promise<Result[]> {
  const mib = quick ? 8 : 1024;
  const bytes = mib * 1024 * 1024;
  const root = mkdtempSync(join(tmpdir(), 'lzy-bench-storage-'));
  const key = randomKey();
  const s3 = await startS3TestServer({ keys: [key] });
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: key,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const fileBase = await fileBaseline(root, mib);
    log(`file baseline: ${fmt(mbps(bytes, fileBase.ms))} MB/s`);
    const file = await runWorkflow(root, 'file', mib);
    log(`file-1gib: ${fmt(mbps(bytes, file.ms))} MB/s; runtime peak ${fmt(file.runtimePeakMib)} MiB, agent peak ${fmt(file.agentPeakMib)} MiB`);
    const s3Base = await s3Baseline(root, client, 'bench', mib);
    log(`s3 baseline: ${fmt(mbps(bytes, s3Base.ms))} MB/s`);
    const storage = { s3: { bucket: 'bench', prefix: 'runs', endpoint: s3.endpoint, region: s3.region, pathStyle: true, credentials: key } };
    const viaS3 = await runWorkflow(root, 's3', mib, storage);
    log(`s3-1gib: ${fmt(mbps(bytes, viaS3.ms))} MB/s; runtime peak ${fmt(viaS3.runtimePeakMib)} MiB, agent peak ${fmt(viaS3.agentPeakMib)} MiB`);
    for (const [name, got] of [['file', file], ['s3', viaS3]] as const) {
      if (got.sha256 !== fileBase.sha256) throw new Error(`the ${name} workflow hashed ${got.sha256}; the bytes written hash to ${fileBase.sha256}`);
    }
    const agentPeak = Math.max(file.agentPeakMib, viaS3.agentPeakMib);
    const runtimePeak = Math.max(file.runtimePeakMib, viaS3.runtimePeakMib);
    return [
      rateResult('file-1gib', mbps(bytes, file.ms), mbps(bytes, fileBase.ms), 'MB/s'),
      rateResult('s3-1gib', mbps(bytes, viaS3.ms), mbps(bytes, s3Base.ms), 'MB/s'),
      latencyResult('agent-peak-rss', agentPeak, RSS_GOAL_MIB, 'MiB'),
      latencyResult('runtime-peak-rss', runtimePeak, RSS_GOAL_MIB, 'MiB'),
    ];
  } finally {
    client.destroy();
    await s3.close();
    rmSync(root, { recursive: true, force: true });
  }
}
