const HASH = /^[0-9a-f]{64}$/;

/** `hash` when it is a sha256 hash (64 hex digits); throws otherwise. */
export function checkedHash(hash: string): string {
  if (!HASH.test(hash)) throw new Error(`not a sha256 hash: ${hash}`);
  return hash;
}

/** The sha256 hash a `blob:` URI names; throws for any other URI. */
export function hashOfUri(uri: string): string {
  const hash = uri.startsWith('blob:') ? uri.slice(5) : '';
  if (!HASH.test(hash)) throw new Error(`not a blob URI: ${uri}`);
  return hash;
}
