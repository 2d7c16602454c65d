// Tenancy on Kubernetes, property-style: three tenants' workflows, interleaved in a seeded random
// order on a small kubernetes pool of the simulator (whose machines register their deleted Nodes
// again), never share a node or a machine, and every node released is deleted. A failure names its
// seed; LZY_TENANCY_SEED=SEED replays it.
import t from 'tap';
import { Watch, type V1Node } from '@kubernetes/client-node';
import { seededRandom } from '@lzy/kube-sim';
import { whichNode } from './fixtures/kube-ops.js';
import { client, nodes, startCluster, startRuntime, settle } from './kube-cluster.js';

const TENANTS = ['alice', 'bob', 'carol'];
const STEPS = 10;
const seed = Number(process.env.LZY_TENANCY_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** One version of a Node as the watch saw it. */
interface NodeSeen {
  readonly type: string;
  readonly name: string;
  readonly uid: string;
  readonly machine: string | undefined;
  readonly tenant: string | undefined;
}

t.test(`three tenants' interleaved workflows never share a node or a machine (seed ${seed})`, async (t) => {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const cluster = await startCluster(t, { cpu: 4 }, { reRegister: true });
  const seen: NodeSeen[] = [];
  const watch = await new Watch(cluster.config).watch('/api/v1/nodes', {}, (type: string, node: V1Node) => {
    const labels = node.metadata?.labels ?? {};
    seen.push({ type, name: node.metadata!.name!, uid: node.metadata!.uid!, machine: node.status?.nodeInfo?.systemUUID, tenant: labels['lzy.dev/tenant'] });
  }, () => {});
  t.teardown(() => watch.abort());
  const server = await startRuntime(t, cluster);
  const clients = new Map(await Promise.all(TENANTS.map(async (tenant) => [tenant, await client(t, server, tenant)] as const)));

  // Each step submits a workflow of one to three ops for a random tenant, then awaits some of the
  // workflows in flight, or waits until a random tenant has been released from every node.
  const ran: Array<{ tenant: string; node: string }> = [];
  let inFlight: Array<Promise<void>> = [];
  const schedule: string[] = [];
  for (let step = 0; step < STEPS; step++) {
    const tenant = pick(TENANTS);
    const width = 1 + Math.floor(random() * 3);
    schedule.push(`${tenant}×${width}`);
    inFlight.push(
      clients.get(tenant)!.workflow(`step-${step}`, async () => {
        const where = await Promise.all(Array.from({ length: width }, () => whichNode()));
        where.forEach((node) => ran.push({ tenant, node }));
      }),
    );
    const after = random();
    if (after < 0.3) {
      await Promise.all(inFlight);
      inFlight = [];
      schedule.push('await all');
    } else if (after < 0.45) {
      await Promise.all(inFlight);
      inFlight = [];
      const idle = pick(TENANTS);
      schedule.push(`${idle} idle`);
      await settle(async () => !(await nodes(cluster)).some((node) => node.metadata?.labels?.['lzy.dev/tenant'] === idle), `${idle}'s nodes to be released`);
    }
  }
  await Promise.all(inFlight);
  t.comment(`seed ${seed}: ${schedule.join(', ')}`);
  await settle(async () => !(await nodes(cluster)).some((node) => node.metadata?.labels?.['lzy.dev/tenant'] !== undefined), 'every node to be released');

  const leasedTo = (name: string) => new Set(seen.filter((node) => node.name === name && node.tenant !== undefined).map((node) => node.tenant));
  const strayOps = ran.filter(({ tenant, node }) => [...leasedTo(node)].join() !== tenant).map(({ tenant, node }) => `${tenant} on ${node}, leased to ${[...leasedTo(node)].join(' and ')}`);
  t.same(strayOps, [], `seed ${seed}: each op ran on a node leased to its tenant only`);
  const tenantsOfMachine = new Map<string, Set<string>>();
  for (const node of seen) if (node.tenant !== undefined && node.machine !== undefined) tenantsOfMachine.set(node.machine, (tenantsOfMachine.get(node.machine) ?? new Set()).add(node.tenant));
  const sharedMachines = [...tenantsOfMachine].filter(([, tenants]) => tenants.size > 1).map(([machine, tenants]) => `${machine}: ${[...tenants].join(', ')}`);
  t.same(sharedMachines, [], `seed ${seed}: no machine was leased to two tenants`);
  const leasedNodes = new Set(seen.filter((node) => node.tenant !== undefined).map((node) => node.uid));
  const deleted = new Set(seen.filter((node) => node.type === 'DELETED').map((node) => node.uid));
  t.same([...leasedNodes].filter((uid) => !deleted.has(uid)), [], `seed ${seed}: every node released was deleted`);
  t.equal(ran.length, schedule.reduce((sum, step) => sum + Number(/×(\d)/.exec(step)?.[1] ?? 0), 0), 'every op ran');
});
