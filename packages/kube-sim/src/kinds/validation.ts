// Field checks shared by the kinds: names, labels, and required fields.
import { isObject, type Json, type JsonObject } from '../json.js';
import type { FieldError } from '../status.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Errors of `value` as an RFC 1123 label (namespaces, services, container names). */
export function dnsLabelErrors(field: string, value: string): FieldError[] {
  return value.length <= 63 && DNS_LABEL.test(value)
    ? []
    : [{ field, message: `Invalid value: ${JSON.stringify(value)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character` }];
}

/** Errors of `value` as an RFC 1123 subdomain (most object names). */
export function dnsSubdomainErrors(field: string, value: string): FieldError[] {
  return value.length <= 253 && DNS_SUBDOMAIN.test(value)
    ? []
    : [{ field, message: `Invalid value: ${JSON.stringify(value)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` }];
}

/** Errors of a qualified key (`prefix/name`) as label, annotation and taint keys use. */
export function qualifiedNameErrors(field: string, key: string): FieldError[] {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const ok = name.length <= 63 && LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
  return ok ? [] : [{ field, message: `Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.'` }];
}

/** Errors of a map of labels (keys qualified names, values label values). */
export function labelErrors(field: string, labels: Json | undefined): FieldError[] {
  if (labels === undefined) return [];
  if (!isObject(labels)) return [{ field, message: 'Invalid value: must be a map of strings' }];
  return Object.entries(labels).flatMap(([key, value]) => [
    ...qualifiedNameErrors(`${field}`, key),
    ...(typeof value === 'string' && value.length <= 63 && LABEL_VALUE.test(value)
      ? []
      : [{ field: `${field}`, message: `Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'` }]),
  ]);
}

/** A `Required value` error when `value` is absent or empty. */
export function required(field: string, value: Json | undefined): FieldError[] {
  const empty = value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
  return empty ? [{ field, message: 'Required value' }] : [];
}

/** A `Unsupported value` error when `value` is not one of `allowed`. */
export function oneOf(field: string, value: Json | undefined, allowed: readonly string[]): FieldError[] {
  return value === undefined || (typeof value === 'string' && allowed.includes(value))
    ? []
    : [{ field, message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}` }];
}

/** An error when `value` is present and not an object. */
export function objectErrors(field: string, value: Json | undefined): FieldError[] {
  return value === undefined || isObject(value) ? [] : [{ field, message: 'Invalid value: must be an object' }];
}

/** A `field is immutable` error when `field` differs between the stored and the new object. */
export function immutable(field: string, now: Json | undefined, before: Json | undefined): FieldError[] {
  return JSON.stringify(now) === JSON.stringify(before) ? [] : [{ field, message: 'Invalid value: field is immutable' }];
}

/** The object at `path` (dotted) of `object`, or undefined. */
export function at(object: JsonObject, path: string): Json | undefined {
  let current: Json | undefined = object;
  for (const part of path.split('.')) current = isObject(current) ? current[part] : undefined;
  return current;
}

/** Each entry of the list at `value` that is an object, with its index. */
export function objectItems(value: Json | undefined): Array<[number, JsonObject]> {
  return Array.isArray(value) ? value.flatMap((item, index): Array<[number, JsonObject]> => (isObject(item) ? [[index, item]] : [])) : [];
}
