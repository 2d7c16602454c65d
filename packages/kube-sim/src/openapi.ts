// The OpenAPI documents kubectl fetches before `apply`: empty ones, so it skips client-side
// schema checks and computes strategic merge patches from its built-in types. (The server checks
// what each kind's validation checks; unknown fields are kept, not refused.)

/** The protobuf Content-Type of /openapi/v2 (kubectl asks for it as `...spec.v2@v1.0+protobuf`). */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

function protoString(field: number, text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
}

/** An OpenAPI v2 document with no paths and no definitions, as gnostic's protobuf `Document`. */
export function openApiV2Protobuf(version: string): Buffer {
  const info = Buffer.concat([protoString(1, 'Kubernetes'), protoString(2, version)]);
  return Buffer.concat([protoString(1, '2.0'), Buffer.from([(2 << 3) | 2, info.length]), info]);
}

/** The same empty OpenAPI v2 document, as JSON. */
export function openApiV2Json(version: string): Record<string, unknown> {
  return { swagger: '2.0', info: { title: 'Kubernetes', version }, paths: {}, definitions: {} };
}

/** The OpenAPI v3 root: no group versions described. */
export function openApiV3Root(): Record<string, unknown> {
  return { paths: {} };
}
