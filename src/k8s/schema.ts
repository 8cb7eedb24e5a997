// Offline validation of Kubernetes manifests. Built-in kinds are checked against the API types
// that @kubernetes/client-node generates from Kubernetes' OpenAPI document (every field name and
// its type); custom resources (KubeRay's RayCluster and RayJob, Chaos Mesh, kind's config) against
// the subset of their CRDs written out in crds.ts. An unknown field is an error, as it is for
// `kubectl apply --validate=strict`: a misspelt field would otherwise be dropped silently.

import * as k8s from "@kubernetes/client-node";

/** A custom resource's schema, in the few shapes CRDs use. */
export type Schema =
  | "string" | "integer" | "number" | "boolean" | "quantity" | "any"
  | { readonly enum: readonly string[] }
  | { readonly array: Schema }
  | { readonly map: Schema }
  | { readonly object: Readonly<Record<string, Schema>>; readonly required?: readonly string[] }
  /** A built-in Kubernetes type by its client-node name, e.g. "V1PodTemplateSpec". */
  | { readonly k8s: string };

interface Attribute { readonly baseName: string; readonly type: string }
type ModelClass = { getAttributeTypeMap(): Attribute[] };

function modelClass(name: string): ModelClass | undefined {
  const c = (k8s as unknown as Record<string, unknown>)[name];
  return typeof c === "function" && typeof (c as Partial<ModelClass>).getAttributeTypeMap === "function" ? c as unknown as ModelClass : undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "a mapping" : `a ${typeof v} (${JSON.stringify(v)})`;
}

/** Validates `value` against a client-node type expression (`V1Pod`, `Array<V1EnvVar>`, `{ [key: string]: string; }`…). */
function checkK8s(value: unknown, type: string, path: string, out: string[], quantities = false): void {
  if (value === null) return; // YAML's `~`/empty: the API server treats it as unset
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) { out.push(`${path}: expected a list, got ${typeName(value)}`); return; }
    value.forEach((v, i) => checkK8s(v, array[1], `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (!isObject(value)) { out.push(`${path}: expected a mapping, got ${typeName(value)}`); return; }
    for (const [k, v] of Object.entries(value)) {
      // Resource quantities are strings in the generated types; the API also takes plain numbers.
      if (quantities && typeof v === "number") continue;
      checkK8s(v, map[1], `${path}.${k}`, out);
    }
    return;
  }
  switch (type) {
    case "string": case "Date":
      if (typeof value !== "string") out.push(`${path}: expected a string, got ${typeName(value)}`);
      return;
    case "number":
      if (typeof value !== "number") out.push(`${path}: expected a number, got ${typeName(value)}`);
      return;
    case "boolean":
      if (typeof value !== "boolean") out.push(`${path}: expected true or false, got ${typeName(value)}`);
      return;
    case "IntOrString":
      if (typeof value !== "string" && !Number.isInteger(value)) out.push(`${path}: expected an integer or a string, got ${typeName(value)}`);
      return;
    case "any": case "object":
      return;
  }
  const cls = modelClass(type);
  if (!cls) throw new Error(`schema: no Kubernetes type ${type} in @kubernetes/client-node (at ${path})`);
  if (!isObject(value)) { out.push(`${path}: expected a mapping (${type}), got ${typeName(value)}`); return; }
  const attrs = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const t = attrs.get(k);
    if (t === undefined) {
      out.push(`${path}.${k}: unknown field (${type} has ${[...attrs.keys()].join(", ")})`);
      continue;
    }
    checkK8s(v, t, `${path}.${k}`, out, type === "V1ResourceRequirements" && (k === "limits" || k === "requests"));
  }
}

/** Validates `value` against a custom resource schema. */
export function checkSchema(value: unknown, schema: Schema, path: string, out: string[]): void {
  if (typeof schema === "string") {
    const ok = schema === "any" ? true
      : schema === "string" ? typeof value === "string"
      : schema === "integer" ? Number.isInteger(value)
      : schema === "number" ? typeof value === "number"
      : schema === "boolean" ? typeof value === "boolean"
      : typeof value === "string" || typeof value === "number"; // quantity
    if (!ok) out.push(`${path}: expected ${schema === "integer" ? "an integer" : `a ${schema}`}, got ${typeName(value)}`);
    return;
  }
  if ("k8s" in schema) return checkK8s(value, schema.k8s, path, out);
  if ("enum" in schema) {
    if (typeof value !== "string" || !schema.enum.includes(value)) out.push(`${path}: expected one of ${schema.enum.join(", ")}, got ${typeName(value)}`);
    return;
  }
  if ("array" in schema) {
    if (!Array.isArray(value)) { out.push(`${path}: expected a list, got ${typeName(value)}`); return; }
    value.forEach((v, i) => checkSchema(v, schema.array, `${path}[${i}]`, out));
    return;
  }
  if (!isObject(value)) { out.push(`${path}: expected a mapping, got ${typeName(value)}`); return; }
  if ("map" in schema) {
    for (const [k, v] of Object.entries(value)) checkSchema(v, schema.map, `${path}.${k}`, out);
    return;
  }
  for (const r of schema.required ?? []) if (!(r in value)) out.push(`${path}.${r}: required field missing`);
  for (const [k, v] of Object.entries(value)) {
    const s = schema.object[k];
    if (s === undefined) out.push(`${path}.${k}: unknown field (allowed: ${Object.keys(schema.object).join(", ")})`);
    else checkSchema(v, s, `${path}.${k}`, out);
  }
}

/** API groups whose kinds client-node models (the core group is ""). */
const BUILTIN_GROUPS = new Set(["", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"]);

/** The client-node type of a built-in kind (`apps/v1` Deployment → V1Deployment), if it has one. */
export function builtinType(apiVersion: string, kind: string): string | undefined {
  const slash = apiVersion.lastIndexOf("/");
  if (!BUILTIN_GROUPS.has(slash < 0 ? "" : apiVersion.slice(0, slash))) return undefined;
  const version = apiVersion.slice(slash + 1);
  const name = `${version[0]?.toUpperCase() ?? ""}${version.slice(1)}${kind}`;
  return modelClass(name) ? name : undefined;
}

export function checkBuiltin(value: unknown, type: string, path: string, out: string[]): void {
  checkK8s(value, type, path, out);
}
