// The HTTP API server: JSON only, the REST verbs of every stored kind, watches, the status and
// eviction subresources, TokenReview, and discovery.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { coreVersionsDocument, groupListDocument, resourceListDocument, SERVER_VERSION, servesGroupVersion, versionDocument } from './discovery.js';
import { OPENAPI_V2_PROTOBUF, openApiV2Json, openApiV2Protobuf, openApiV3Root } from './openapi.js';
import { apiVersionOf, podKind, tokenReviewKind } from './kinds/index.js';
import { isObject, objectAt, stringAt, type Json, type JsonObject } from './json.js';
import { applyPatch } from './patch.js';
import { route, type ResourcePath } from './routes.js';
import { parseFieldSelector, parseLabelSelector, type Selector } from './selectors.js';
import { ApiError, successStatus } from './status.js';
import type { DeleteOptions, ObjectStore } from './store.js';
import { tokenReviewStatus, type TokenIssuer } from './token-issuer.js';
import type { WatchStreams } from './watch-stream.js';

/** The largest request body accepted, as the real server's limit. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** What the API server serves from. */
export interface ApiServerParts {
  store: ObjectStore;
  tokens: TokenIssuer;
  watches: WatchStreams;
}

/** A listening API server. */
export interface ApiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Reply = { code: number; body: JsonObject | Record<string, unknown> } | { code: number; raw: Buffer; contentType: string } | 'streamed';

async function readBody(request: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError('BadRequest', 'the request body is too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new ApiError('BadRequest', `the request body is not JSON: ${(error as Error).message}`);
  }
}

function requireObject(body: Json | undefined): JsonObject {
  if (!isObject(body)) throw new ApiError('BadRequest', 'the request body must be a JSON object');
  return body;
}

function selectorsOf(query: URLSearchParams, path: ResourcePath): Selector[] {
  const fields = ['metadata.name', ...(path.kind.namespaced ? ['metadata.namespace'] : []), ...(path.kind.fieldSelectors ?? [])];
  return [parseLabelSelector(query.get('labelSelector')), parseFieldSelector(query.get('fieldSelector'), fields, path.kind.kind)];
}

function deleteOptionsOf(query: URLSearchParams, body: Json | undefined): DeleteOptions {
  const options: DeleteOptions = {};
  const fromBody = isObject(body) ? body : {};
  const grace = query.get('gracePeriodSeconds') ?? fromBody.gracePeriodSeconds;
  if (grace !== undefined && grace !== null) options.gracePeriodSeconds = Number(grace);
  const preconditions = objectAt(fromBody, 'preconditions');
  if (preconditions) {
    options.preconditions = {};
    const uid = stringAt(preconditions, 'uid');
    const resourceVersion = stringAt(preconditions, 'resourceVersion');
    if (uid !== undefined) options.preconditions.uid = uid;
    if (resourceVersion !== undefined) options.preconditions.resourceVersion = resourceVersion;
  }
  return options;
}

/** Serves one request of the API. */
class RequestHandler {
  constructor(private readonly parts: ApiServerParts) {}

  async handle(request: IncomingMessage, response: ServerResponse, serverAddress: string): Promise<Reply> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const contentType = request.headers['content-type'] ?? '';
    if ((method === 'POST' || method === 'PUT') && contentType.includes('protobuf')) {
      throw new ApiError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json`);
    }
    const body = method === 'GET' ? undefined : await readBody(request);
    const target = route(url.pathname);
    switch (target.type) {
      case 'version':
        return { code: 200, body: versionDocument() };
      case 'core-versions':
        return { code: 200, body: coreVersionsDocument(serverAddress) };
      case 'groups':
        return { code: 200, body: groupListDocument() };
      case 'openapi-v2':
        return (request.headers.accept ?? '').includes('proto-openapi')
          ? { code: 200, raw: openApiV2Protobuf(SERVER_VERSION.gitVersion), contentType: OPENAPI_V2_PROTOBUF }
          : { code: 200, body: openApiV2Json(SERVER_VERSION.gitVersion) };
      case 'openapi-v3':
        return { code: 200, body: openApiV3Root() };
      case 'resources':
        if (!servesGroupVersion(target.group, target.version)) throw new ApiError('NotFound', 'the server could not find the requested resource');
        return { code: 200, body: resourceListDocument(target.group, target.version) };
      case 'resource':
        return this.resource(target.path, method, url.searchParams, body, request, response);
    }
  }

  private resource(path: ResourcePath, method: string, query: URLSearchParams, body: Json | undefined, request: IncomingMessage, response: ServerResponse): Reply {
    const { store } = this.parts;
    const { kind, namespace, name, subresource } = path;
    const dryRun = query.getAll('dryRun').includes('All');
    if (kind === tokenReviewKind) {
      if (method !== 'POST' || name !== undefined) throw new ApiError('MethodNotAllowed', 'tokenreviews can only be created');
      return { code: 201, body: this.review(requireObject(body)) };
    }
    if (name === undefined) {
      if (method === 'GET') {
        const selectors = selectorsOf(query, path);
        const watch = query.get('watch');
        if (watch === 'true' || watch === '1') {
          const timeout = query.get('timeoutSeconds');
          this.parts.watches.serve(
            {
              kind,
              namespace,
              selectors,
              resourceVersion: query.get('resourceVersion') ?? '',
              allowBookmarks: query.get('allowWatchBookmarks') === 'true',
              sendInitialEvents: query.get('sendInitialEvents') === 'true',
              timeoutSeconds: timeout === null ? undefined : Number(timeout),
            },
            response,
          );
          return 'streamed';
        }
        const list = store.list(kind, namespace, selectors);
        return { code: 200, body: { kind: `${kind.kind}List`, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: list.resourceVersion }, items: list.items } };
      }
      if (method === 'POST') return { code: 201, body: store.create(kind, namespace, requireObject(body), dryRun) };
      if (method === 'DELETE') {
        const options = deleteOptionsOf(query, body);
        const items = store.list(kind, namespace, selectorsOf(query, path)).items.map((item) => store.delete(kind, stringAt(objectAt(item, 'metadata'), 'namespace'), String(objectAt(item, 'metadata')?.name), options));
        return { code: 200, body: { kind: `${kind.kind}List`, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: String(store.resourceVersion) }, items } };
      }
      throw new ApiError('MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    if (subresource === 'eviction') {
      if (method !== 'POST') throw new ApiError('MethodNotAllowed', 'evictions can only be created');
      const eviction = requireObject(body);
      const evicted = stringAt(objectAt(eviction, 'metadata'), 'name');
      if (evicted !== undefined && evicted !== name) throw new ApiError('BadRequest', `name in URL does not match name in Eviction object`);
      store.delete(podKind, namespace, name, deleteOptionsOf(new URLSearchParams(), eviction.deleteOptions));
      return { code: 201, body: { ...successStatus(), code: 201 } };
    }
    switch (method) {
      case 'GET':
        return { code: 200, body: store.get(kind, namespace, name) };
      case 'PUT': {
        const object = requireObject(body);
        return { code: 200, body: store.update(kind, namespace, name, object, { ...(subresource ? { subresource } : {}), dryRun }) };
      }
      case 'PATCH': {
        const patched = applyPatch(request.headers['content-type'] ?? '', store.get(kind, namespace, name), body ?? null);
        if (!isObject(patched)) throw new ApiError('BadRequest', 'the patch must leave an object');
        return { code: 200, body: store.update(kind, namespace, name, patched, { ...(subresource ? { subresource } : {}), dryRun }) };
      }
      case 'DELETE':
        if (dryRun) return { code: 200, body: store.get(kind, namespace, name) };
        return { code: 200, body: store.delete(kind, namespace, name, deleteOptionsOf(query, body)) };
      default:
        throw new ApiError('MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
  }

  private review(review: JsonObject): JsonObject {
    const spec = objectAt(review, 'spec');
    const token = stringAt(spec, 'token') ?? '';
    const audiences = Array.isArray(spec?.audiences) ? spec.audiences.filter((a): a is string => typeof a === 'string') : [];
    const result = this.parts.tokens.review(token, audiences, (namespace, pod) => this.parts.store.find(podKind, namespace, pod));
    return { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: spec ?? {}, status: tokenReviewStatus(result) };
  }
}

/** Starts the API server on `host`:`port` (0 picks a free port). */
export async function startApiServer(parts: ApiServerParts, port: number, host = '127.0.0.1'): Promise<ApiServer> {
  const handler = new RequestHandler(parts);
  const server = createServer((request, response) => {
    const address = server.address() as AddressInfo;
    handler.handle(request, response, `${host}:${address.port}`).then(
      (reply) => {
        if (reply === 'streamed') return;
        if ('raw' in reply) {
          response.writeHead(reply.code, { 'Content-Type': reply.contentType });
          return void response.end(reply.raw);
        }
        response.writeHead(reply.code, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(reply.body));
      },
      (error: unknown) => {
        const apiError = error instanceof ApiError ? error : new ApiError('InternalError', `Internal error occurred: ${(error as Error).message}`);
        if (response.headersSent) return void response.end();
        response.writeHead(apiError.code, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(apiError.toStatus()));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    async close() {
      parts.watches.dropAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
