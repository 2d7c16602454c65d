import { decodeValue } from '@lzy/node-agent/protocol';
import type { RuntimeConnection } from '../client.js';
import { RuntimeError } from '../protocol/errors.js';
import type { WhiteboardQuery, WhiteboardRecord } from '../protocol/records.js';

/** Longest text of a field's value the page is shown. */
const PREVIEW_CHARS = 200;

/** A whiteboard's field as the page shows it: a small value inline as text, a stored one by its size and place. */
export interface FieldView {
  readonly name: string;
  readonly codec: string;
  readonly size: number;
  readonly uri?: string;
  /** The value as text (cut at `PREVIEW_CHARS`), when it travels inline. */
  readonly preview?: string;
}

/** A whiteboard as the page shows it. */
export type WhiteboardView = Omit<WhiteboardRecord, 'fields'> & { fields: FieldView[] };

/** The query of `GET /ui/api/whiteboards?name=N&tags=a,b`. */
export function whiteboardQueryOf(params: URLSearchParams): WhiteboardQuery {
  const name = params.get('name') || undefined;
  const tags = (params.get('tags') ?? '').split(',').map((tag) => tag.trim()).filter(Boolean);
  if ((name?.length ?? 0) > 256 || tags.length > 32 || tags.some((tag) => tag.length > 128)) throw new RuntimeError('BAD_REQUEST', 'a name of at most 256 characters, and at most 32 tags of at most 128');
  return { ...(name === undefined ? {} : { name }), ...(tags.length === 0 ? {} : { tags }) };
}

/** The connection's tenant's whiteboards that match `query`, newest first, with their fields. */
export async function findWhiteboards(connection: RuntimeConnection, query: WhiteboardQuery): Promise<WhiteboardView[]> {
  return (await connection.whiteboards(query)).map(({ fields, ...board }) => ({
    ...board,
    fields: Object.entries(fields).map(([name, ref]) => ({
      name,
      codec: ref.codec,
      size: ref.size,
      ...(ref.uri === undefined ? {} : { uri: ref.uri }),
      ...(ref.inline === undefined || ref.codec !== 'msgpack' ? {} : { preview: previewOf(decodeValue(ref.inline)) }),
    })),
  }));
}

/** `value` as short text: JSON where it can be, with maps, sets and bigints spelled out. */
function previewOf(value: unknown): string {
  const text = JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? `${item}n` : item instanceof Map ? Object.fromEntries(item) : item instanceof Set ? [...item] : item instanceof Uint8Array ? `<${item.length} bytes>` : item,
  ) ?? String(value);
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}
