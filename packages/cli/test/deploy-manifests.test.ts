// The Kubernetes manifests in deploy/ (which run `lzy server` and the node-agent), checked offline:
// every document against the API's schemas, then what the runtime, the agents and the allocator
// count on (names, selectors, tolerations, the agent's token, least-privilege RBAC, isolation).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { apps, networkingK8sIo, rbacAuthorizationK8sIo, v1 } from 'kubernetes-models';
import { parse, parseAllDocuments } from 'yaml';
import { kubeSchemaProblems } from './kube-schema.js';

const deployDir = fileURLToPath(new URL('../../../../deploy/', import.meta.url));

/** One YAML document of deploy/, with where it came from. */
interface Manifest {
  readonly file: string;
  readonly object: unknown;
}

/**
 * The files `kubectl apply -f deploy/` reads (every .yaml, .yml and .json of the folder, in name
 * order) and their documents, parsed as YAML 1.1 as kubectl parses them (`on` is a boolean there).
 */
function readDeploy(): { files: string[]; manifests: Manifest[] } {
  const files = readdirSync(deployDir)
    .filter((name) => /\.(ya?ml|json)$/.test(name))
    .sort();
  const manifests = files.flatMap((file) =>
    parseAllDocuments(readFileSync(deployDir + file, 'utf8'), { version: '1.1' }).map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((error) => error.message).join('; ')}`);
      return { file, object: document.toJS() as unknown };
    }),
  );
  return { files, manifests };
}

const { files, manifests } = readDeploy();
const objects = manifests.map((manifest) => manifest.object).filter((object) => object !== null);

/** The one object of a kind named `name` (in `namespace`), or a failure that says which is missing. */
function theOne<T extends { metadata?: { name?: string; namespace?: string } }>(
  is: (value: unknown) => value is T,
  name: string,
  namespace?: string,
): T {
  const found = objects.filter(is).filter((object) => object.metadata?.name === name && object.metadata.namespace === namespace);
  if (found.length !== 1) throw new Error(`deploy/ has ${found.length} objects of this kind named ${name}${namespace ? ` in ${namespace}` : ''}, not one`);
  return found[0]!;
}

/** The RoleBindings and ClusterRoleBindings of deploy/. */
const bindings = objects.filter(
  (object) => rbacAuthorizationK8sIo.v1.RoleBinding.is(object) || rbacAuthorizationK8sIo.v1.ClusterRoleBinding.is(object),
);

const RUNTIME_NS = 'lzy-system';
const AGENTS_NS = 'lzy-agents';

t.test('every document in deploy/ is an object of the Kubernetes API that an API server accepts as it is', async (t) => {
  t.ok(files.length > 0, 'deploy/ has manifests');
  for (const { file, object } of manifests) {
    if (object === null) continue; // an empty document (a trailing ---) is skipped by kubectl too
    t.same(kubeSchemaProblems(object), [], `${file}: ${describe(object)} is valid`);
    const { apiVersion } = object as { apiVersion: string };
    t.match(apiVersion, /^([a-z0-9.-]+\/)?v\d+$/, `${file}: ${describe(object)} uses a GA API, which every supported cluster serves`);
  }
});

t.test('the schema check refuses a wrong field type, a missing field, an unknown field and an unknown kind', async (t) => {
  const serviceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'x' } };
  t.same(kubeSchemaProblems(serviceAccount), [], 'a valid object passes');
  t.match(kubeSchemaProblems({ ...serviceAccount, automountServiceAccountToken: 'no' }), [/automountServiceAccountToken must be boolean/]);
  t.match(kubeSchemaProblems({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'x' } }), [/roleRef/]);
  t.same(kubeSchemaProblems({ ...serviceAccount, metadata: { name: 'x', lables: { a: 'b' } } }), ['unknown field /metadata/lables', 'unknown field /metadata/lables/a']);
  t.same(kubeSchemaProblems({ ...serviceAccount, kind: 'ServiceAcount' }), ['v1 ServiceAcount is not a kind of the Kubernetes API']);
});

t.test('kubectl apply -f deploy/ creates each namespace before anything in it, and apply -k deploy/ applies the same files', async (t) => {
  const namespaces = new Map<string, string>();
  for (const { file, object } of manifests) {
    if (v1.Namespace.is(object)) namespaces.set(object.metadata?.name ?? '', file);
  }
  t.same([...namespaces.keys()].sort(), [AGENTS_NS, RUNTIME_NS], 'deploy/ creates lzy-system and lzy-agents');
  for (const { file, object } of manifests) {
    const namespace = (object as { metadata?: { namespace?: string } } | null)?.metadata?.namespace;
    if (namespace === undefined) continue;
    const createdIn = namespaces.get(namespace);
    t.ok(createdIn !== undefined && (createdIn < file || createdIn === file), `${file}: ${describe(object)} comes after its namespace ${namespace}`);
  }
  // kubectl apply -f reads every *.yaml of the folder: a kustomization.yaml there would be applied
  // as an object and fail, so the kustomization is the file kustomize also finds as `Kustomization`.
  t.notOk(files.some((file) => /^kustomization\.ya?ml$/.test(file)), 'no kustomization.yaml for kubectl apply -f to trip on');
  const kustomization = parse(readFileSync(`${deployDir}Kustomization`, 'utf8'), { version: '1.1' }) as { kind?: unknown; resources?: unknown };
  t.equal(kustomization.kind, 'Kustomization');
  t.same([...(kustomization.resources as string[])].sort(), files, 'the kustomization lists every manifest file');
});

t.test('the runtime runs lzy server in-cluster on its own persistent data dir, behind the Service lzy-runtime.lzy-system on port 8080', async (t) => {
  const service = theOne(v1.Service.is, 'lzy-runtime', RUNTIME_NS);
  const runtime = theOne(apps.v1.StatefulSet.is, 'lzy-runtime', RUNTIME_NS);
  const spec = runtime.spec!;
  const pod = spec.template;
  t.equal(spec.replicas, 1, 'one runtime owns the data dir');
  t.equal(spec.serviceName, 'lzy-runtime');
  t.same(service.spec?.ports?.map((port) => [port.port, port.protocol]), [[8080, 'TCP']]);
  t.ok(matches(service.spec?.selector, pod.metadata?.labels), "the Service selects the runtime's pods");
  t.ok(matches(spec.selector.matchLabels, pod.metadata?.labels), "the StatefulSet selects its pods");
  t.equal(pod.spec?.serviceAccountName, 'lzy-runtime');
  t.not(pod.spec?.automountServiceAccountToken, false, 'the runtime has its service account token for in-cluster API calls');

  const [container, ...others] = pod.spec?.containers ?? [];
  t.same(others, [], 'one container');
  const args = [...(container?.command ?? []), ...(container?.args ?? [])];
  t.same(args.slice(0, 2), ['lzy', 'server']);
  t.equal(flag(args, '--host'), '0.0.0.0', 'listens on every interface of the pod');
  t.equal(flag(args, '--port'), '8080');
  const namedPort = container?.ports?.find((port) => port.containerPort === 8080);
  t.ok(namedPort, 'the container declares port 8080');
  t.ok(service.spec?.ports?.every((port) => port.targetPort === 8080 || port.targetPort === namedPort?.name), 'the Service forwards to it');

  const mounts = container?.volumeMounts ?? [];
  const dataDir = flag(args, '--data-dir');
  const dataMount = mounts.find((mount) => mount.mountPath === dataDir);
  t.ok(dataMount, `the data dir ${dataDir} is a mounted volume`);
  t.same(
    spec.volumeClaimTemplates?.map((claim) => claim.metadata?.name),
    [dataMount?.name],
    'the data dir is the volume claim template, so it outlives the pod',
  );

  const pools = flag(args, '--pools') ?? '';
  const poolsMount = mounts.find((mount) => pools.startsWith(`${mount.mountPath}/`));
  const poolsVolume = pod.spec?.volumes?.find((volume) => volume.name === poolsMount?.name);
  const configMap = theOne(v1.ConfigMap.is, poolsVolume?.configMap?.name ?? '(none)', RUNTIME_NS);
  const poolsJson = configMap.data?.[pools.slice((poolsMount?.mountPath.length ?? 0) + 1)] ?? '';
  const poolKinds = (JSON.parse(poolsJson) as { kind?: string }[]).map((pool) => pool.kind);
  t.ok(poolKinds.includes('kubernetes'), 'the pools file, from a ConfigMap, has a kubernetes pool');

  t.match(pod.metadata?.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
  for (const probe of [container?.readinessProbe, container?.livenessProbe]) {
    t.ok(probe?.tcpSocket?.port === 8080 || probe?.tcpSocket?.port === namedPort?.name, 'probed on the gateway port');
  }
});

t.test('node-agents land only on leased nodes, tolerate the tenant taint, and reach the runtime by its Service name', async (t) => {
  const agents = theOne(apps.v1.DaemonSet.is, 'lzy-node-agent', AGENTS_NS);
  const pod = agents.spec!.template;
  t.same(pod.spec?.nodeSelector, { 'lzy.dev/leased': 'true' });
  const tolerated = (pod.spec?.tolerations ?? []).filter((toleration) => toleration.key === 'lzy.dev/tenant' && toleration.operator === 'Exists');
  t.same(tolerated.map((toleration) => toleration.effect).sort(), ['NoExecute', 'NoSchedule'], 'the tenant taint, whatever the tenant, both effects');
  t.ok(
    (pod.spec?.tolerations ?? []).every((toleration) => toleration.key === 'lzy.dev/tenant'),
    'no other toleration: agents go nowhere else',
  );
  t.ok(matches(agents.spec?.selector.matchLabels, pod.metadata?.labels), 'the DaemonSet selects its pods');

  const [container] = pod.spec?.containers ?? [];
  const env = new Map((container?.env ?? []).map((variable) => [variable.name, variable]));
  const service = theOne(v1.Service.is, 'lzy-runtime', RUNTIME_NS);
  const runtimeUrl = `ws://${service.metadata?.name}.${service.metadata?.namespace}.svc:${service.spec?.ports?.[0]?.port}`;
  t.equal(runtimeUrl, 'ws://lzy-runtime.lzy-system.svc:8080');
  t.equal(env.get('LZY_SERVER')?.value, runtimeUrl, "the agent dials the runtime's Service");
  t.equal(env.get('LZY_NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName', 'the node name, from the downward API');
  t.equal(env.get('LZY_POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
  t.equal(env.get('LZY_POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
  t.equal(env.get('LZY_LOG_LEVEL')?.value, 'info', 'the agent logs JSON lines, which kubectl logs shows');
});

t.test('the agent holds no Kubernetes credential: only a projected token of audience lzy that expires within the hour', async (t) => {
  const serviceAccount = theOne(v1.ServiceAccount.is, 'lzy-node-agent', AGENTS_NS);
  const agents = theOne(apps.v1.DaemonSet.is, 'lzy-node-agent', AGENTS_NS);
  const pod = agents.spec!.template.spec!;
  t.equal(pod.serviceAccountName, serviceAccount.metadata?.name);
  t.equal(serviceAccount.automountServiceAccountToken, false, 'the service account mounts no API token');
  t.equal(pod.automountServiceAccountToken, false, 'nor does the pod');

  const tokens = (pod.volumes ?? []).flatMap((volume) =>
    (volume.projected?.sources ?? []).flatMap((source) => (source.serviceAccountToken ? [{ volume: volume.name, token: source.serviceAccountToken }] : [])),
  );
  t.same(tokens.map(({ token }) => token.audience), ['lzy'], 'one projected token, for the lzy audience only');
  const expiry = tokens[0]?.token.expirationSeconds ?? Number.POSITIVE_INFINITY;
  t.ok(expiry >= 600 && expiry <= 3600, `it expires after ${expiry} s: short, and no shorter than the API's 10 minutes`);
  const [container] = pod.containers;
  const mount = container?.volumeMounts?.find((volumeMount) => volumeMount.name === tokens[0]?.volume);
  const tokenFile = container?.env?.find((variable) => variable.name === 'LZY_TOKEN_FILE')?.value;
  t.equal(tokenFile, `${mount?.mountPath}/${tokens[0]?.token.path}`, 'the agent is told where its token is');

  const bound = bindings
    .flatMap((binding) => binding.subjects ?? [])
    .filter((subject) => subject.kind === 'ServiceAccount' && subject.name === 'lzy-node-agent');
  t.same(bound, [], 'no role is bound to the agent');
});

t.test("the runtime's permissions are exactly what the allocator and the gateway use: no wildcard, no secrets", async (t) => {
  for (const rule of rbacRules()) {
    for (const value of [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs]) t.not(value, '*', 'no wildcard');
    t.notOk(rule.resources?.includes('secrets'), 'no access to secrets');
    t.notOk(rule.nonResourceURLs, 'no non-resource URLs');
  }
  const subjects = bindings.flatMap((binding) => (binding.subjects ?? []).map((subject) => `${subject.kind} ${subject.namespace}/${subject.name}`));
  t.same([...new Set(subjects)], [`ServiceAccount ${RUNTIME_NS}/lzy-runtime`], 'the runtime is the only one granted anything');
  t.same(grantsTo('lzy-runtime', RUNTIME_NS), [
    'cluster: /nodes delete',
    'cluster: /nodes get',
    'cluster: /nodes list',
    'cluster: /nodes patch',
    'cluster: /nodes watch',
    'cluster: /pods get',
    'cluster: /pods list',
    'cluster: /pods patch',
    'cluster: /pods watch',
    'cluster: /pods/eviction create',
    'cluster: authentication.k8s.io/tokenreviews create',
    'lzy-agents: networking.k8s.io/networkpolicies create',
    'lzy-agents: networking.k8s.io/networkpolicies delete',
    'lzy-agents: networking.k8s.io/networkpolicies get',
    'lzy-agents: networking.k8s.io/networkpolicies list',
    'lzy-agents: networking.k8s.io/networkpolicies patch',
    'lzy-agents: networking.k8s.io/networkpolicies update',
    'lzy-agents: networking.k8s.io/networkpolicies watch',
  ]);
});

t.test('agent pods that have not joined may reach only DNS and the runtime, and the runtime takes traffic on 8080 only', async (t) => {
  const runtimePods = theOne(apps.v1.StatefulSet.is, 'lzy-runtime', RUNTIME_NS).spec!.template.metadata?.labels;
  const policies = objects.filter(networkingK8sIo.v1.NetworkPolicy.is);

  const unjoined = policies.filter((policy) => policy.metadata?.namespace === AGENTS_NS);
  t.equal(unjoined.length, 1, 'one policy of lzy-agents in deploy/; the runtime adds one per tenant');
  const deny = unjoined[0]!.spec!;
  t.same(deny.podSelector, { matchExpressions: [{ key: 'lzy.dev/tenant', operator: 'DoesNotExist' }] }, 'it holds every agent pod not yet labelled for a tenant');
  t.same([...(deny.policyTypes ?? [])].sort(), ['Egress', 'Ingress'], 'it fences both directions');
  t.same(deny.ingress ?? [], [], 'nothing comes in');
  const egress = (deny.egress ?? []).map((rule) => ({
    to: rule.to?.map((peer) => ({ namespace: peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'], pods: peer.podSelector?.matchLabels })),
    ports: rule.ports?.map((port) => `${port.port}/${port.protocol}`).sort(),
  }));
  t.same(egress, [
    { to: [{ namespace: RUNTIME_NS, pods: runtimePods && pick(runtimePods, 'app.kubernetes.io/name') }], ports: ['8080/TCP'] },
    { to: [{ namespace: 'kube-system', pods: { 'k8s-app': 'kube-dns' } }], ports: ['53/TCP', '53/UDP'] },
  ]);

  const ingress = policies.filter((policy) => policy.metadata?.namespace === RUNTIME_NS);
  t.equal(ingress.length, 1);
  const runtimePolicy = ingress[0]!.spec!;
  t.ok(matches(runtimePolicy.podSelector.matchLabels, runtimePods), "it holds the runtime's pods");
  t.same(runtimePolicy.policyTypes, ['Ingress']);
  t.same(
    runtimePolicy.ingress?.flatMap((rule) => rule.ports?.map((port) => `${port.port}/${port.protocol}`) ?? ['every port']),
    ['8080/TCP'],
  );
});

t.test('every container runs as non-root on a read-only root, without privilege escalation, within requests and limits', async (t) => {
  const pods = [
    theOne(apps.v1.StatefulSet.is, 'lzy-runtime', RUNTIME_NS).spec!.template,
    theOne(apps.v1.DaemonSet.is, 'lzy-node-agent', AGENTS_NS).spec!.template,
  ];
  const workloads = objects.filter((object) => apps.v1.StatefulSet.is(object) || apps.v1.DaemonSet.is(object) || apps.v1.Deployment.is(object));
  t.equal(workloads.length, pods.length, 'these are all the workloads of deploy/');
  const images = new Set<string>();
  for (const pod of pods) {
    const name = pod.metadata?.labels?.['app.kubernetes.io/name'];
    t.equal(pod.spec?.securityContext?.runAsNonRoot, true, `${name}: not root`);
    t.equal(pod.spec?.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${name}: the runtime's seccomp profile`);
    for (const container of pod.spec?.containers ?? []) {
      const context = container.securityContext;
      t.equal(context?.allowPrivilegeEscalation, false, `${name}: no privilege escalation`);
      t.equal(context?.readOnlyRootFilesystem, true, `${name}: a read-only root file system`);
      t.same(context?.capabilities?.drop, ['ALL'], `${name}: no capabilities`);
      t.notOk(context?.privileged, `${name}: not privileged`);
      t.ok(container.resources?.requests?.cpu && container.resources.requests.memory, `${name}: requests cpu and memory`);
      t.ok(container.resources?.limits?.cpu && container.resources.limits.memory, `${name}: limits cpu and memory`);
      images.add(container.image ?? '');
    }
  }
  const readme = readFileSync(`${deployDir}README.md`, 'utf8');
  for (const image of images) t.ok(readme.includes(image), `deploy/README.md says what the image ${image} is and how to build it`);
});

/** `apiVersion kind name` of an object, for messages. */
function describe(object: unknown): string {
  const { apiVersion, kind, metadata } = object as { apiVersion?: string; kind?: string; metadata?: { name?: string } };
  return `${apiVersion} ${kind} ${metadata?.name}`;
}

/** Whether every label of `selector` is on `labels` (and the selector selects something). */
function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const wanted = Object.entries(selector ?? {});
  return wanted.length > 0 && wanted.every(([key, value]) => labels?.[key] === value);
}

/** The one label `key` of `labels`, as a selector. */
function pick(labels: Record<string, string>, key: string): Record<string, string> {
  return { [key]: labels[key] ?? '' };
}

/** The value after `name` in a command line. */
function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args[at + 1];
}

/** The rules of every Role and ClusterRole of deploy/. */
function rbacRules() {
  return objects.flatMap((object) =>
    rbacAuthorizationK8sIo.v1.ClusterRole.is(object) || rbacAuthorizationK8sIo.v1.Role.is(object) ? (object.rules ?? []) : [],
  );
}

/** Every `scope: group/resource verb` that the bindings of deploy/ grant the service account, sorted. */
function grantsTo(serviceAccount: string, namespace: string): string[] {
  const grants = new Set<string>();
  for (const binding of bindings) {
    const bindsIt = (binding.subjects ?? []).some(
      (subject) => subject.kind === 'ServiceAccount' && subject.name === serviceAccount && subject.namespace === namespace,
    );
    if (!bindsIt) continue;
    const roles = binding.roleRef.kind === 'ClusterRole' ? objects.filter(rbacAuthorizationK8sIo.v1.ClusterRole.is) : objects.filter(rbacAuthorizationK8sIo.v1.Role.is);
    const roleNamespace = binding.roleRef.kind === 'Role' ? binding.metadata?.namespace : undefined;
    const role = roles.find((candidate) => candidate.metadata?.name === binding.roleRef.name && candidate.metadata.namespace === roleNamespace);
    if (!role) throw new Error(`${describe(binding)} binds ${binding.roleRef.kind} ${binding.roleRef.name}, which deploy/ does not have`);
    const scope = binding.metadata?.namespace ?? 'cluster';
    for (const rule of role.rules ?? []) {
      for (const group of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) for (const verb of rule.verbs) grants.add(`${scope}: ${group}/${resource} ${verb}`);
      }
    }
  }
  return [...grants].sort();
}
