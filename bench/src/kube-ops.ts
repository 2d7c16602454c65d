// The ops of the kube bench, one per pool (an op's pool is fixed where it is defined). The bench's
// in-process agents answer every attempt with its first argument, as these bodies would.
import { op } from '@lzy/sdk';

/** The pools of the kube bench, each `NODES_PER_POOL` simulated nodes. */
export const KUBE_POOLS = ['pool-1', 'pool-2', 'pool-3', 'pool-4', 'pool-5'] as const;

export const onPool1 = op({ pool: 'pool-1' }, async (i: number) => i);
export const onPool2 = op({ pool: 'pool-2' }, async (i: number) => i);
export const onPool3 = op({ pool: 'pool-3' }, async (i: number) => i);
export const onPool4 = op({ pool: 'pool-4' }, async (i: number) => i);
export const onPool5 = op({ pool: 'pool-5' }, async (i: number) => i);

/** The op of each pool of `KUBE_POOLS`, in the same order. */
export const OPS_BY_POOL = [onPool1, onPool2, onPool3, onPool4, onPool5];
