// The DaemonSet controller: one pod of each DaemonSet on every node its pod template selects and
// whose NoSchedule/NoExecute taints it tolerates; a pod whose node stops matching is deleted.
import { randomBytes } from 'node:crypto';
import { daemonSetKind, nodeKind, podKind } from '../kinds/index.js';
import { clone, objectAt, stringAt, stringMapAt, type Json, type JsonObject } from '../json.js';
import { objectItems } from '../kinds/validation.js';
import { podSpecSelectsNode } from '../node-affinity.js';
import type { ObjectStore } from '../store.js';
import { noExecuteGraceMs, taintsOf, toleratesForScheduling } from '../taints.js';
import { Reconciler } from './reconciler.js';

/** The tolerations the real DaemonSet controller adds to every pod it makes. */
const DEFAULT_TOLERATIONS: JsonObject[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

function nameOf(object: JsonObject): string {
  return String(objectAt(object, 'metadata')?.name ?? '');
}

function isDeleting(object: JsonObject): boolean {
  return objectAt(object, 'metadata')?.deletionTimestamp !== undefined;
}

function controllerUid(pod: JsonObject): string | undefined {
  const ref = objectItems(objectAt(pod, 'metadata')?.ownerReferences).find(([, r]) => r.controller === true);
  return ref ? String(ref[1].uid) : undefined;
}

/** The pod the controller makes for `daemonSet` on `node`. */
function podFor(daemonSet: JsonObject, node: JsonObject): JsonObject {
  const metadata = objectAt(daemonSet, 'metadata')!;
  const template = objectAt(objectAt(daemonSet, 'spec'), 'template') ?? {};
  const spec = clone(objectAt(template, 'spec') ?? {});
  const tolerations: Json[] = Array.isArray(spec.tolerations) ? [...spec.tolerations] : [];
  for (const toleration of DEFAULT_TOLERATIONS) if (!tolerations.some((t) => JSON.stringify(t) === JSON.stringify(toleration))) tolerations.push(toleration);
  spec.tolerations = tolerations;
  spec.nodeName = nameOf(node);
  spec.affinity = {
    ...(objectAt(spec, 'affinity') ?? {}),
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nameOf(node)] }] }],
      },
    },
  };
  return {
    metadata: {
      name: `${nameOf(daemonSet)}-${randomBytes(3).toString('hex').slice(0, 5)}`,
      namespace: String(metadata.namespace),
      labels: { ...stringMapAt(objectAt(template, 'metadata'), 'labels'), 'pod-template-generation': String(metadata.generation ?? 1) },
      annotations: stringMapAt(objectAt(template, 'metadata'), 'annotations'),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: nameOf(daemonSet), uid: String(metadata.uid), controller: true, blockOwnerDeletion: true }],
    },
    spec,
  };
}

/** Whether a DaemonSet's pod belongs on `node`: the template selects it and tolerates its taints. */
function shouldRun(daemonSet: JsonObject, node: JsonObject): boolean {
  const spec = objectAt(objectAt(objectAt(daemonSet, 'spec'), 'template'), 'spec');
  const tolerations = [...(Array.isArray(spec?.tolerations) ? spec.tolerations : []), ...DEFAULT_TOLERATIONS];
  return podSpecSelectsNode(spec, node) && toleratesForScheduling(tolerations, taintsOf(node));
}

/** Whether a running DaemonSet pod must leave `node`: it no longer selects it, or a NoExecute taint is not tolerated. */
function mustLeave(daemonSet: JsonObject, pod: JsonObject, node: JsonObject): boolean {
  const spec = objectAt(objectAt(objectAt(daemonSet, 'spec'), 'template'), 'spec');
  return !podSpecSelectsNode(spec, node) || noExecuteGraceMs(objectAt(pod, 'spec')?.tolerations, taintsOf(node)) === 0;
}

/**
 * How long node and pod changes gather before the DaemonSet controller reconciles: each reconcile
 * looks at every node, so on a thousand-node cluster with a change each moment a reconcile per
 * change would take the whole process.
 */
const DAEMONSET_BATCH_MS = 10;

/** Keeps every DaemonSet's pods in place, and its status counts current. */
export function startDaemonSetController(store: ObjectStore): Reconciler {
  return new Reconciler(
    store.hub,
    (event) => event.kind === daemonSetKind || event.kind === nodeKind || event.kind === podKind,
    () => {
      const nodes = [...store.scan(nodeKind)];
      const pods = [...store.scan(podKind)];
      for (const daemonSet of store.list(daemonSetKind, undefined).items) {
        if (isDeleting(daemonSet)) continue;
        const metadata = objectAt(daemonSet, 'metadata')!;
        const namespace = stringAt(metadata, 'namespace');
        // Its pods by node, in one pass: a cluster of a thousand nodes reconciles often.
        const own = new Map<string, JsonObject[]>();
        for (const pod of pods) {
          if (controllerUid(pod) !== metadata.uid) continue;
          const node = String(objectAt(pod, 'spec')?.nodeName);
          const onNode = own.get(node);
          if (onNode) onNode.push(pod);
          else own.set(node, [pod]);
        }
        let desired = 0;
        let scheduled = 0;
        let ready = 0;
        let misscheduled = 0;
        for (const node of nodes) {
          const onNode = own.get(nameOf(node)) ?? [];
          const live = onNode.filter((pod) => !isDeleting(pod) && objectAt(pod, 'status')?.phase !== 'Failed');
          for (const failed of onNode.filter((pod) => !isDeleting(pod) && objectAt(pod, 'status')?.phase === 'Failed')) store.delete(podKind, namespace, nameOf(failed), { gracePeriodSeconds: 0 });
          const wanted = shouldRun(daemonSet, node);
          if (wanted) desired++;
          const [keep, ...extra] = live;
          for (const pod of extra) store.delete(podKind, namespace, nameOf(pod));
          if (keep && mustLeave(daemonSet, keep, node)) {
            store.delete(podKind, namespace, nameOf(keep));
            continue;
          }
          if (keep) {
            scheduled++;
            if (!wanted) misscheduled++;
            if (objectAt(keep, 'status')?.phase === 'Running') ready++;
          } else if (wanted && onNode.length === 0) store.create(podKind, namespace, podFor(daemonSet, node));
        }
        const status: JsonObject = {
          currentNumberScheduled: scheduled,
          desiredNumberScheduled: desired,
          numberMisscheduled: misscheduled,
          numberReady: ready,
          numberAvailable: ready,
          updatedNumberScheduled: scheduled,
          observedGeneration: Number(metadata.generation ?? 1),
        };
        if (JSON.stringify(status) !== JSON.stringify(daemonSet.status)) {
          store.update(daemonSetKind, namespace, nameOf(daemonSet), { ...daemonSet, status }, { subresource: 'status' });
        }
      }
    },
    DAEMONSET_BATCH_MS,
  );
}
