// Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`) and field
// selectors over the few fields the API server supports for each kind.
import { ApiError } from './status.js';
import { isObject, type JsonObject } from './json.js';

/** One requirement of a label selector. */
type LabelRequirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

/** A parsed selector: true when an object's labels (or fields) satisfy every requirement. */
export type Selector = (object: JsonObject) => boolean;

/** Splits at commas that are not inside `( )`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function parseLabelRequirement(text: string): LabelRequirement {
  let match = /^!\s*([\w./-]+)$/.exec(text);
  if (match) return { op: 'notexists', key: match[1]! };
  match = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (match) {
    const values = match[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
    return { op: match[2] === 'in' ? 'in' : 'notin', key: match[1]!, values };
  }
  match = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(text);
  if (match) return { op: match[2] === '!=' ? 'neq' : 'eq', key: match[1]!, value: match[3]! };
  match = /^([\w./-]+)$/.exec(text);
  if (match) return { op: 'exists', key: match[1]! };
  throw new ApiError('BadRequest', `unable to parse requirement: ${JSON.stringify(text)}`);
}

function labelsOf(object: JsonObject): Record<string, unknown> {
  const metadata = object.metadata;
  const labels = isObject(metadata) ? metadata.labels : undefined;
  return isObject(labels) ? labels : {};
}

function satisfies(labels: Record<string, unknown>, req: LabelRequirement): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.op) {
    case 'eq':
      return has && value === req.value;
    case 'neq':
      return !has || value !== req.value;
    case 'in':
      return has && req.values.includes(String(value));
    case 'notin':
      return !has || !req.values.includes(String(value));
    case 'exists':
      return has;
    case 'notexists':
      return !has;
  }
}

/** Parses a `labelSelector` query value; throws 400 BadRequest when it does not parse. */
export function parseLabelSelector(text: string | null | undefined): Selector {
  const requirements = splitTopLevel(text ?? '').map(parseLabelRequirement);
  return (object) => {
    const labels = labelsOf(object);
    return requirements.every((req) => satisfies(labels, req));
  };
}

/** Whether `labels` match a `matchLabels` / `matchExpressions` selector object (as in a DaemonSet or a NetworkPolicy). */
export function matchesLabelSelectorObject(selector: JsonObject, labels: Record<string, string>): boolean {
  const matchLabels = isObject(selector.matchLabels) ? selector.matchLabels : {};
  for (const [key, value] of Object.entries(matchLabels)) if (labels[key] !== value) return false;
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  for (const expression of expressions) {
    if (!isObject(expression) || typeof expression.key !== 'string') return false;
    const values = Array.isArray(expression.values) ? expression.values.map(String) : [];
    const key = expression.key;
    const req: LabelRequirement | undefined =
      expression.operator === 'In'
        ? { op: 'in', key, values }
        : expression.operator === 'NotIn'
          ? { op: 'notin', key, values }
          : expression.operator === 'Exists'
            ? { op: 'exists', key }
            : expression.operator === 'DoesNotExist'
              ? { op: 'notexists', key }
              : undefined;
    if (!req || !satisfies(labels, req)) return false;
  }
  return true;
}

/** The value of a dotted field path of `object` as a field selector compares it (absent: ''). */
export function fieldValue(object: JsonObject, path: string): string {
  let current: unknown = object;
  for (const part of path.split('.')) current = isObject(current) ? current[part] : undefined;
  if (current === undefined || current === null) return path === 'spec.unschedulable' ? 'false' : '';
  return String(current);
}

/**
 * Parses a `fieldSelector` query value (`f=v`, `f==v`, `f!=v`, comma-separated) against the
 * fields `supported` by the kind; any other field is a 400, as on a real server.
 */
export function parseFieldSelector(text: string | null | undefined, supported: readonly string[], kind: string): Selector {
  const requirements = splitTopLevel(text ?? '').map((part) => {
    const match = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!match) throw new ApiError('BadRequest', `invalid field selector: ${JSON.stringify(part)}`);
    const [, field, op, value] = match as unknown as [string, string, string, string];
    if (!supported.includes(field)) throw new ApiError('BadRequest', `field label not supported: ${field}`, { kind });
    return { field, negate: op === '!=', value };
  });
  return (object) => requirements.every((req) => (fieldValue(object, req.field) === req.value) !== req.negate);
}
