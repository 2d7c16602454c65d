import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { ask, JournalArchive, LmdbJournal, startActorSystem, tell, unixSocketPathFits, type ActorRef, type Remoting } from '@lzy/actors';
import { spawnAllocator, type AllocatorMsg } from './allocator/allocator.js';
import type { NodeBackend } from './allocator/backend.js';
import type { KubeBackend } from './allocator/kubernetes/kube-backend.js';
import { LocalBackend } from './allocator/local-backend.js';
import { NodeDirectory } from './allocator/node-directory.js';
import { LocalConnection, type LocalServices, type RuntimeConnection } from './client.js';
import { resolveOptions, type PoolConfig, type ResolvedOptions, type RuntimeOptions, type StorageOptions } from './config.js';
import { DataDirHeldError, DataDirLock } from './data-dir-lock.js';
import { spawnClients, type ClientsMsg } from './gateway/clients.js';
import { createGateway } from './gateway/gateway.js';
import { createLocalGateway } from './gateway/local-gateway.js';
import { spawnNodesRouter } from './gateway/nodes-router.js';
import { CacheIndex } from './graph/cache-index.js';
import { LogStore } from './logs/log-store.js';
import { WhiteboardIndex } from './whiteboard/whiteboard-index.js';
import { FailedAuthLimiter } from './iam/failed-auth-limiter.js';
import { Iam, type Subject } from './iam/iam.js';
import { OIDC_PATH, OidcIssuer } from './iam/oidc-issuer.js';
import { TokenVerifier } from './iam/token-verifier.js';
import { WorkerTokens } from './iam/worker-tokens.js';
import { authorize, decide, spawnIamService } from './iam/iam-service.js';
import type { RuntimeMetrics } from './observe/metrics.js';
import { serveMetrics } from './observe/metrics-endpoint.js';
import { StateLog } from './observe/state-log.js';
import { LeaseBoard } from './ui/ui-lease-board.js';
import { serveUi, type UiDeps } from './ui/ui-server.js';
import { UiSessions } from './ui/ui-sessions.js';
import { RoleBindings } from './iam/role-bindings.js';
import { spawnScheduler } from './scheduler/scheduler.js';
import { LOCAL_PROTOCOL_VERSION, removeRuntimeInfo, RUNTIME_VERSION, runtimeSocketPath, writeRuntimeInfo } from './runtime-info.js';
import type { BlobStore } from './storage/blob-store.js';
import { BlobLocations } from './storage/blob-locations.js';
import { OpenUploads } from './storage/open-uploads.js';
import { FileStore } from './storage/file-store.js';
import { serveFileBlobs } from './storage/file-store-http.js';
import { SignedBlobUrls } from './storage/signed-blob-urls.js';
import { RunStorages } from './storage/run-storages.js';
import { RunStore } from './storage/run-store.js';
import { S3Store } from './storage/s3-store.js';
import { DEFAULT_TEMP_QUOTA_BYTES, TempQuota } from './storage/temp-quota.js';
import { DEFAULT_TEMP_TTL_MS, TempExpiry } from './storage/temp-expiry.js';
import { AttemptGrants } from './storage/attempt-grants.js';
import { spawnStorage } from './storage/storage.js';
import { RunIndex } from './workflow/run-index.js';
import { spawnWorkflows } from './workflow/workflows.js';
import { RunArchive } from './workflow/run-archive.js';
import { runOfJournalKey } from './journal-keys.js';

/**
 * The Lzy runtime: every system service as a supervised actor in one actor system, its state in
 * one lmdb environment under the data dir, node-agents reaching it through the gateway. Embedded
 * in the user's process by the SDK, or run as `lzy server`. It holds its data dir's lock for its
 * whole life, and serves the other processes of its user on the data dir's socket
 * (`DATA_DIR/runtime.sock`, named in `DATA_DIR/runtime.json`).
 */
export class Runtime {
  private constructor(
    readonly options: ResolvedOptions,
    private readonly dataDir: string,
    private readonly root: RootDatabase,
    private readonly journal: LmdbJournal,
    private readonly archive: RunArchive,
    private readonly index: RunIndex,
    private readonly cache: CacheIndex,
    private readonly logs: LogStore,
    private readonly services: LocalServices,
    private readonly gateway: Remoting,
    private readonly localGateway: Remoting,
    private readonly lock: DataDirLock,
    private readonly backend: LocalBackend,
    private readonly kube: KubeBackend | undefined,
    private readonly expiry: TempExpiry,
    private readonly clients: ActorRef<ClientsMsg>,
    private readonly metrics: RuntimeMetrics | undefined,
    private readonly stateLog: StateLog | undefined,
    private readonly leaseBoard: LeaseBoard | undefined,
    readonly iam: Iam,
    /** The OIDC issuer, when the options asked for one (`lzy server`). */
    readonly issuer: OidcIssuer | undefined,
    /** The gateway's ws URL, where node-agents and remote clients connect. */
    readonly url: string,
  ) {}

  /**
   * Starts the runtime on `options.dataDir`, resuming every workflow that was active there.
   * Rejects with `DataDirHeldError`, having written nothing, when another live process's runtime
   * holds the data dir.
   */
  static async start(options: RuntimeOptions = {}): Promise<Runtime> {
    const resolved = resolveOptions(options);
    const dataDir = resolve(resolved.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const lock = await DataDirLock.acquire(dataDir);
    if (!lock) throw DataDirHeldError.of(dataDir);
    try {
      return await Runtime.startHolding(resolved, dataDir, lock);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  private static async startHolding(resolved: ResolvedOptions, dataDir: string, lock: DataDirLock): Promise<Runtime> {
    mkdirSync(join(dataDir, 'state'), { recursive: true });
    const root = open({ path: join(dataDir, 'state'), maxDbs: 64, mapSize: 2 ** 36 });
    const journal = new LmdbJournal(root, false, { store: await JournalArchive.open(join(dataDir, 'journal-archive')), groupOf: (key) => runOfJournalKey(key) ?? key });
    const system = startActorSystem({ persistence: journal });
    const { logger } = resolved;
    const stateLog = logger && new StateLog(logger);
    const warn = (line: string) => (logger ? logger.warn(line) : process.stderr.write(`lzy runtime: ${line}\n`));
    const { store, runStorages, expiry, serveBlobs } = await openBlobStore(resolved.storage, root, dataDir, warn);
    const cache = new CacheIndex(root, (tenant, uri) => store.has(tenant, uri));
    const logs = new LogStore(root);
    const whiteboards = new WhiteboardIndex(root);
    const iam = new Iam(root);
    const directory = new NodeDirectory();
    const workerTokens = new WorkerTokens(resolved.workerTokenTtlMs);
    const backend: NodeBackend & LocalBackend = new LocalBackend(join(dataDir, 'nodes'), logger?.level);
    const kubePools = [...resolved.pools.values()].filter((pool) => pool.kind === 'kubernetes');
    const kube =
      kubePools.length === 0
        ? undefined
        : await startKubeBackend(root, resolved.kubeconfig, kubePools, (line) => warn(`kubernetes: ${line}`));

    let allocator: ActorRef<AllocatorMsg> | undefined;
    // An attempt's multipart uploads still open when it ends (its agent killed mid-upload) are given up, and so are those the last run of the runtime left.
    await store.abortUploads();
    const grants = new AttemptGrants((attemptId) =>
      store.abortUploads(attemptId).catch((error: Error) => warn(`the uploads attempt ${attemptId} left open could not be aborted: ${error.message}`)),
    );
    const scheduler = spawnScheduler(system, { allocator: () => allocator!, pools: resolved.pools, grants });
    const storage = spawnStorage(system, store, grants);
    const nodes = spawnNodesRouter(system, { directory, scheduler, allocator: () => allocator! });
    const index = await RunIndex.open(root, journal);
    // Before the runtime answers anyone: on the first start on a data dir, its ended runs without an expiry get one.
    await expiry.reconcile(index.endedRuns());
    const archive = new RunArchive(journal, (line) => warn(line));
    const workflows = spawnWorkflows(system, { scheduler, cache, blobs: store, pools: resolved.pools, logs, whiteboards, runStorages, expiry, index, archive });
    const bindings = new RoleBindings(root);
    const iamService = spawnIamService(system, bindings);
    const services: LocalServices = { system, workflows, store, whiteboards, runStorages, iam: iamService };
    const connectAs = (subject: Subject) => new LocalConnection(subject, services);
    let issuer: OidcIssuer | undefined;
    const clients = spawnClients(system, {
      iam,
      iamService,
      decide: (subject, permission, resource) => decide(bindings, subject, permission, resource),
      issuer: () => issuer,
      pools: resolved.pools,
      store,
      runStorages,
      workflows,
      connectAs,
    });
    const verifier = new TokenVerifier(iam, () => issuer, resolved.identity.trust);
    const limiter = new FailedAuthLimiter(resolved.identity.failedAuthLimits);
    const gateway = createGateway({ directory, workerTokens, pools: resolved.pools, iam, verifier, limiter, nodes, storage, clients, ...(kube ? { kube } : {}) });
    const localGateway = createLocalGateway(clients);
    // prom-client is loaded only by a runtime that serves metrics.
    const metrics = resolved.metrics && new (await import('./observe/metrics.js')).RuntimeMetrics([gateway.frames, localGateway.frames]);
    const metricsAccess = {
      public: resolved.metrics?.public === true,
      verify: async (token: string) => (await verifier.verify(token)).subject,
      isAdmin: async (subject: Subject) => (await authorize(iamService, subject, null, 'server')).includes('admin'),
      limiter,
    };
    const dashboard: UiDeps | undefined = resolved.dashboard
      ? {
          sessions: new UiSessions(),
          verify: metricsAccess.verify,
          mayReadRuns: async (subject, tenant) => void (await authorize(iamService, subject, 'runs.read', { tenant })),
          isAdmin: metricsAccess.isAdmin,
          connectAs,
          leases: new LeaseBoard(),
          limiter,
        }
      : undefined;
    const notFound = (res: ServerResponse) => res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
    const failed = (res: ServerResponse, error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`);
    const { url } = await gateway.listen({
      host: resolved.host,
      port: resolved.port,
      onRequest: (req, res) => {
        if (serveBlobs(req, res) || issuer?.handle(req, res)) return;
        const served = async () => (metrics !== undefined && (await serveMetrics(req, res, metrics, metricsAccess))) || (dashboard !== undefined && (await serveUi(req, res, dashboard)));
        served().then((done) => done || notFound(res), (error: Error) => failed(res, error));
      },
    });
    if (resolved.identity.issuer) {
      const identifier = typeof resolved.identity.issuer === 'string' ? resolved.identity.issuer : `${url.replace(/^ws/, 'http')}${OIDC_PATH}`;
      issuer = await OidcIssuer.start({
        root,
        issuer: identifier,
        ...(resolved.identity.tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds: resolved.identity.tokenTtlSeconds }),
        log: warn });
    }
    const backendFor = (pool: PoolConfig): NodeBackend => (pool.kind === 'kubernetes' ? kube! : backend);
    allocator = spawnAllocator(system, { options: resolved, backendFor, directory, workerTokens, scheduler, serverUrl: () => url });
    const socket = runtimeSocketPath(dataDir);
    // Programs that find the data dir held tell their user why they cannot join (see `runtime.json`).
    if (unixSocketPathFits(socket)) await localGateway.listen({ path: socket });
    const uid = process.getuid?.() ?? -1;
    writeRuntimeInfo(dataDir, { pid: process.pid, uid, version: RUNTIME_VERSION, protocol: LOCAL_PROTOCOL_VERSION, socket });
    tell(workflows, { type: 'resume' });
    return new Runtime(resolved, dataDir, root, journal, archive, index, cache, logs, services, gateway, localGateway, lock, backend, kube, expiry, clients, metrics, stateLog, dashboard?.leases, iam, issuer, url);
  }

  /** A connection as the tenant `token` belongs to; throws for an unknown token. */
  connect(token: string): RuntimeConnection {
    return new LocalConnection(this.iam.verify(token), this.services);
  }

  /**
   * The first step of a graceful shutdown: remote clients' new work (starting or submitting) is
   * refused with the retryable `SHUTTING_DOWN`, and running graphs may go on for up to
   * `timeoutMs`. Resolves `true` once nothing runs or waits, `false` when the time is up; what
   * still runs then is handed back by `close` and runs again after the next start.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    tell(this.clients, { type: 'drain' });
    return ask(this.services.workflows, { type: 'when-idle' }, Math.max(1, timeoutMs)).catch(() => false);
  }

  /** How many workflow runs memory holds (those active or ended in the last seconds): flat however many runs ended before. */
  runsInMemory(): Promise<number> {
    return ask(this.services.workflows, { type: 'held' }, 30_000);
  }

  /**
   * Stops every node and service, closes the state and lets go of the data dir; what was journaled
   * stays for the next start (another process's joined client may make that start at once).
   */
  async close(): Promise<void> {
    removeRuntimeInfo(this.dataDir);
    this.metrics?.close();
    this.stateLog?.close();
    this.leaseBoard?.close();
    // Actors first, so that nothing leases a new node while the nodes are being removed. Stopped
    // with their system, their unanswered asks are released, not failed: no asker goes on to act.
    this.services.system.stop();
    this.backend.killAll();
    await this.kube?.close();
    await Promise.all([this.gateway.close(), this.localGateway.close()]);
    // Handlers still finishing may try to write: they are refused, and what was accepted is flushed.
    this.cache.close();
    this.logs.close();
    await this.expiry.close();
    // Runs started an instant ago and still active are resumed by the next start.
    await this.index.writeUnwritten();
    await this.services.store.close();
    await this.archive.close();
    await this.journal.close();
    // Writes queued just before (a cache entry, a log line) are committed before the environment closes under them.
    await this.root.committed;
    await this.root.close();
    // Last: the next runtime on the data dir must not open it before this one has closed it.
    await this.lock.release();
  }
}

/**
 * The store of runs' values: the runtime's bucket when the options name one (its client library
 * is loaded only then), else files under the data dir; and the runs that name their own bucket.
 */
async function openBlobStore(
  options: StorageOptions,
  root: RootDatabase,
  dataDir: string,
  warn: (line: string) => void,
): Promise<{ store: BlobStore; runStorages: RunStorages; expiry: TempExpiry; serveBlobs: RequestListenerTaking }> {
  const locations = new BlobLocations(root);
  const staging = join(dataDir, 'staging');
  const runStorages = await RunStorages.open(root);
  const uploads = new OpenUploads(root);
  let server: BlobStore;
  // The file store's nodes move blobs through signed URLs on the runtime's own HTTP server; an S3 store's nodes go to S3.
  let serveBlobs: RequestListenerTaking = () => false;
  if (options.s3) {
    const { S3Bucket } = await import('./storage/s3-bucket.js');
    server = S3Store.inRuntimeBucket(new S3Bucket(options.s3), options.s3.prefix, locations, uploads, staging);
  } else {
    const urls = new SignedBlobUrls();
    const files = new FileStore(join(dataDir, 'blobs'), urls);
    serveBlobs = (req, res) => serveFileBlobs(files, urls, req, res);
    server = files;
  }
  const quota = new TempQuota(root, options.tempQuotaBytes ?? DEFAULT_TEMP_QUOTA_BYTES);
  const store = new RunStore(server, runStorages, locations, quota, uploads, staging);
  const expiry = new TempExpiry(root, store, options.tempTtlMs ?? DEFAULT_TEMP_TTL_MS, warn);
  return { store, runStorages, expiry, serveBlobs };
}

/** An HTTP handler that answers `false` for a request it does not take. */
type RequestListenerTaking = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The allocator's Kubernetes backend, loaded only when a pool is of kind `kubernetes`: its client
 * library (through undici 8) needs Node 22.19 or newer, or on Node 20 the package.json override
 * `"undici": "7.30.2"`; a runtime without such a pool never loads it.
 */
async function startKubeBackend(root: RootDatabase, kubeconfig: string | undefined, pools: PoolConfig[], log: (line: string) => void): Promise<KubeBackend> {
  let modules;
  try {
    modules = await Promise.all([
      import('./allocator/kubernetes/kube-backend.js'),
      import('./allocator/kubernetes/kube-config.js'),
      import('./allocator/kubernetes/machine-journal.js'),
    ]);
  } catch (error) {
    throw new Error(
      `the Kubernetes client library does not load on Node ${process.version} (${(error as Error).message}); ` +
        'use Node 22.19 or newer, or on Node 20 add "overrides": { "undici": "7.30.2" } to your package.json and reinstall',
    );
  }
  const [{ KubeBackend }, { loadKubeConfig }, { MachineJournal }] = modules;
  return KubeBackend.start({
    config: loadKubeConfig(kubeconfig),
    journal: new MachineJournal(root),
    pools,
    log,
  });
}
