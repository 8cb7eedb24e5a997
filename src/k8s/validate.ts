// `validateManifests(text)`: every document of a YAML file checked offline — built-in kinds
// against the Kubernetes API types, tsray's custom kinds against crds.ts — with one message per
// problem, naming the document and the field's path.

import { parseAllDocuments } from "yaml";
import { checkBuiltin, checkSchema, builtinType } from "./schema.ts";
import { customKinds } from "./crds.ts";

export interface ManifestProblem { readonly doc: number; readonly kind: string; readonly message: string }

const META_FIELDS = new Set(["apiVersion", "kind", "metadata"]);

export function validateManifests(text: string): { kinds: string[]; problems: ManifestProblem[] } {
  const problems: ManifestProblem[] = [];
  const kinds: string[] = [];
  parseAllDocuments(text).forEach((d, doc) => {
    const report = (kind: string, message: string) => problems.push({ doc, kind, message });
    for (const e of d.errors) report("?", `YAML: ${e.message}`);
    if (d.errors.length > 0) return;
    const value: unknown = d.toJS();
    if (value === null || value === undefined) return; // an empty document (a trailing `---`)
    if (typeof value !== "object" || Array.isArray(value)) { report("?", "a document must be a mapping"); return; }
    const m = value as Record<string, unknown>;
    const { apiVersion, kind } = m;
    if (typeof apiVersion !== "string" || typeof kind !== "string") { report("?", "apiVersion and kind are required strings"); return; }
    const name = `${apiVersion} ${kind}`;
    kinds.push(name);
    const out: string[] = [];
    const builtin = builtinType(apiVersion, kind);
    const custom = customKinds[name];
    if (builtin) {
      checkBuiltin(m, builtin, kind, out);
    } else if (custom) {
      checkBuiltin(m.metadata ?? {}, "V1ObjectMeta", `${kind}.metadata`, out);
      if (custom.spec) {
        if (m.spec === undefined) out.push(`${kind}.spec: required field missing`);
        for (const [k, v] of Object.entries(m)) {
          if (k === "spec") checkSchema(v, custom.spec, `${kind}.spec`, out);
          else if (!META_FIELDS.has(k)) out.push(`${kind}.${k}: unknown field`);
        }
      } else {
        for (const [k, v] of Object.entries(m)) {
          const s = custom.topLevel?.[k];
          if (s !== undefined) checkSchema(v, s, `${kind}.${k}`, out);
          else if (!META_FIELDS.has(k)) out.push(`${kind}.${k}: unknown field`);
        }
      }
    } else {
      out.push(`unknown kind ${name} (neither a built-in Kubernetes type nor one of ${Object.keys(customKinds).join(", ")})`);
    }
    for (const message of out) report(name, message);
  });
  return { kinds, problems };
}
