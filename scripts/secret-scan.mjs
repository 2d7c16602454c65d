// The secrets no log line of the runtime, its agents, the CLI or a test may hold, and a scan for
// them that names what it found without repeating it.

/** Each kind of secret, and how it shows in a line. */
export const SECRET_PATTERNS = [
  // IAM's opaque tokens: TOKEN_PREFIX (`lzy_`) and 24 random bytes in base64url.
  { kind: 'an opaque lzy_ token', pattern: /lzy_[A-Za-z0-9_-]{32}/ },
  // Access, ID and worker tokens: a JOSE header `{"...` in base64url, a payload, a signature.
  { kind: 'a JWT', pattern: /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/ },
  // A client's secret (32 random bytes in base64url, see oidc-clients.ts), where it is named or sent.
  { kind: 'a client secret', pattern: /client[_-]?secret["'`]?\s*[:=]?\s*["'`]?[A-Za-z0-9_-]{43}/i },
  { kind: 'HTTP basic credentials', pattern: /\bBasic [A-Za-z0-9+/]{16,}={0,2}/ },
  { kind: 'a PEM private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { kind: "a JWK's private part", pattern: /"d"\s*:\s*"[A-Za-z0-9_-]{20,}"/ },
  { kind: "a presigned URL's signature", pattern: /X-Amz-(Signature|Credential)=/i },
];

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * The lines of `lines` (from `source`) that hold a secret, each as `source:LINE: KIND: TEXT` with
 * every secret in TEXT masked, so that the report is no leak itself.
 */
export function findSecrets(source, lines) {
  const found = [];
  lines.forEach((line, index) => {
    const plain = line.replace(ANSI, '');
    const kinds = SECRET_PATTERNS.filter(({ pattern }) => pattern.test(plain)).map(({ kind }) => kind);
    if (kinds.length === 0) return;
    const masked = SECRET_PATTERNS.reduce((text, { pattern }) => text.replace(global(pattern), '[SECRET]'), plain);
    found.push(`${source}:${index + 1}: ${kinds.join(', ')}: ${masked.slice(0, 300)}`);
  });
  return found;
}

/**
 * Secrets in `text` that a reporter wrapped over several lines (tap's renders what a test file
 * prints at the width of a terminal): the text is read with its line ends removed, and each kind
 * found more often than in whole lines is reported, as `source: N KIND split across lines`.
 */
export function findSplitSecrets(source, text) {
  const lines = text.split('\n').map((line) => line.replace(ANSI, ''));
  const joined = lines.join('').replace(/\r/g, '');
  const found = [];
  for (const { kind, pattern } of SECRET_PATTERNS) {
    const whole = lines.reduce((sum, line) => sum + (line.match(global(pattern))?.length ?? 0), 0);
    const split = (joined.match(global(pattern))?.length ?? 0) - whole;
    if (split > 0) found.push(`${source}: ${split} ${kind} split across lines`);
  }
  return found;
}

function global(pattern) {
  return new RegExp(pattern.source, `${pattern.flags}g`);
}
