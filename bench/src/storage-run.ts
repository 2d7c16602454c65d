// One run of the storage bench's workflow, in a process of its own so that its peak RSS is the
// embedded runtime's (with the client's), not the baselines': `node storage-run.js '<json>'` with
// { dataDir, dir, mib, storage? }; prints { ms, sha256, runtimePeakMib, agentPeakMib } on stdout.
import { readdirSync, readFileSync } from 'node:fs';
import { Lzy, type LzyStartOptions } from '@lzy/sdk';
import { hashFileValue, writeFileValue } from './storage-ops.js';

const { dataDir, dir, mib, storage } = JSON.parse(process.argv[2]!) as { dataDir: string; dir: string; mib: number; storage?: LzyStartOptions['storage'] };

/** The largest resident set process `pid` has had, in MiB; 0 when it is gone. */
function peakMib(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The node-agent processes started by this one. */
function agents(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        const parent = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
        return parent === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node-agent');
      } catch {
        return false;
      }
    });
}

const lzy = await Lzy.start({ dataDir, ...(storage ? { storage } : {}), pools: [{ name: 'default', cpu: 2, memoryMb: 2048, slots: 2, maxNodes: 2, idleTimeoutMs: 60_000 }], onLog: () => {} });
const started = performance.now();
const sha256 = await lzy.workflow('storage-bench', async () => await hashFileValue(writeFileValue(dir, mib)));
const ms = performance.now() - started;
const agentPeakMib = Math.max(0, ...agents().map(peakMib));
const runtimePeakMib = peakMib(process.pid);
await lzy.close();
process.stdout.write(`${JSON.stringify({ ms, sha256, runtimePeakMib, agentPeakMib })}\n`);
