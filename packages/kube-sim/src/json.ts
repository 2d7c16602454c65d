// JSON values as the API server receives and stores them, and the small helpers every part uses.

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: Json;
}

/** Whether `value` is a JSON object (not an array, not null). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy of a JSON value, so stored objects never share structure with callers. */
export function clone<T extends Json>(value: T): T {
  return structuredClone(value);
}

/** The object at `key` of `value`, or undefined when it is absent or not an object. */
export function objectAt(value: JsonObject | undefined, key: string): JsonObject | undefined {
  const found = value?.[key];
  return isObject(found) ? found : undefined;
}

/** The array at `key` of `value`, or an empty array when it is absent or not an array. */
export function arrayAt(value: JsonObject | undefined, key: string): Json[] {
  const found = value?.[key];
  return Array.isArray(found) ? found : [];
}

/** The string at `key` of `value`, or undefined. */
export function stringAt(value: JsonObject | undefined, key: string): string | undefined {
  const found = value?.[key];
  return typeof found === 'string' ? found : undefined;
}

/** The string-to-string map at `key` (labels, annotations, nodeSelector); other values are left out. */
export function stringMapAt(value: JsonObject | undefined, key: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const [k, v] of Object.entries(objectAt(value, key) ?? {})) if (typeof v === 'string') map[k] = v;
  return map;
}
