/**
 * The schema's errors as a user reads them: the setting, the bad value, what is allowed, and a
 * "did you mean" for a misspelt key or namespace.
 */
import { z } from "zod";
import { configNamespace, fieldPath } from "./field-path";
import { StackConfigSchema } from "./schema";

/** Namespaces a stack file may hold besides this project's: the providers the program uses, and Pulumi's own. */
const knownNamespaces = ["gcp", "random", "command", "pulumi"];

/** `raw` without the values the issues point at (unknown keys removed). */
export function withoutPaths(raw: Record<string, unknown>, issues: z.core.$ZodIssue[]): Record<string, unknown> {
  const copy = structuredClone(raw);
  const remove = (path: readonly PropertyKey[]) => {
    let parent: unknown = copy;
    for (const key of path.slice(0, -1)) parent = parent && typeof parent === "object" ? (parent as Record<PropertyKey, unknown>)[key] : undefined;
    if (parent && typeof parent === "object" && !Array.isArray(parent)) delete (parent as Record<PropertyKey, unknown>)[path[path.length - 1]];
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") issue.keys.forEach((key) => remove([...issue.path, key]));
    else if (issue.path.length) remove(issue.path);
  }
  return copy;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

function nearest(word: string, candidates: string[]): string | undefined {
  const [best] = [...candidates].sort((x, y) => distance(word, x) - distance(word, y));
  return best !== undefined && distance(word, best) <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Keys of namespaces no one reads, such as `geo_api_layer:machineType`: silently ignored otherwise. */
export function foreignKeyErrors(keys: string[]): string[] {
  const ours = Object.keys(StackConfigSchema.shape).map((key) => `${configNamespace}:${key}`);
  return keys
    .filter((key) => !knownNamespaces.includes(key.split(":")[0]))
    .map((key) => {
      const guess = nearest(key, ours);
      return `${key}: unknown namespace "${key.split(":")[0]}"; nothing reads this key${guess ? `; did you mean ${guess}?` : ""} (namespaces read: ${[configNamespace, ...knownNamespaces].join(", ")})`;
    });
}

/** Settings an earlier version read, by path: what replaced them. */
const retiredSettings: Record<string, string> = {
  "database.region": "replaced by database.regions, the primary's region first (regions: [us-central1, us-east4])",
  "database.replicaRegion": "replaced by database.regions, the replica's region after the primary's (regions: [us-central1, us-east4])",
};

export function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeysAt(StackConfigSchema, issue.path);
    return issue.keys.map((key) => {
      const retired = retiredSettings[[...issue.path, key].join(".")];
      if (retired) return `${fieldPath([...issue.path, key])}: ${retired}`;
      const guess = nearest(key, allowed);
      return `${fieldPath([...issue.path, key])}: unknown setting${guess ? `; did you mean ${guess}?` : ""}; allowed here: ${allowed.join(", ")}`;
    });
  }
  if (issue.code === "invalid_key") {
    // The key is the bad value; the key schema's own message says what is allowed.
    const key = issue.path[issue.path.length - 1];
    return [`${fieldPath(issue.path)}: ${issue.issues[0]?.message ?? issue.message} (got key ${JSON.stringify(key)})`];
  }
  const value = valueAt(raw, issue.path);
  const got = value === undefined ? "" : ` (got ${JSON.stringify(value)})`;
  return [`${fieldPath(issue.path)}: ${issue.message}${got}`];
}

/** The settings an object in the schema accepts at `path`, for "unknown setting" messages. */
function allowedKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const def = (schema as any)._zod.def;
  if (["default", "prefault", "optional", "nullable", "pipe"].includes(def.type)) return allowedKeysAt(def.innerType ?? def.in, path);
  if (def.type === "union") return [...new Set(def.options.flatMap((o: z.core.$ZodType) => allowedKeysAt(o, path)))] as string[];
  const [head, ...rest] = path;
  if (def.type === "object") return head === undefined ? Object.keys(def.shape) : def.shape[head as string] ? allowedKeysAt(def.shape[head as string], rest) : [];
  if (def.type === "record") return allowedKeysAt(def.valueType, rest);
  if (def.type === "array") return allowedKeysAt(def.element, rest);
  return [];
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = raw;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return typeof value === "object" ? undefined : value;
}
