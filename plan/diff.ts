/**
 * What a change does to a stack, from two plans: resources added, removed and changed, field by
 * field, as Markdown for a pull-request comment. Works on recorded plans, whose secrets are
 * already "[secret]", so a diff can never reveal one.
 */
import type { PlanDocument } from "./document";
import type { RecordedResource } from "./record";
import replaceOnChange from "./replace-on-change.json";

export interface FieldChange {
  /** Dotted path, e.g. `inputs.settings.tier` or `inputs.disks[0].diskSizeGb`. */
  path: string;
  before: unknown;
  after: unknown;
  /** The provider replaces the resource when this input changes (ForceNew upstream). */
  forcesReplacement: boolean;
}

export type ResourceChange =
  | { kind: "added"; urn: string; type: string }
  | { kind: "removed"; urn: string; type: string; retained: boolean }
  | {
      kind: "changed" | "replaced";
      urn: string;
      type: string;
      fields: FieldChange[];
      /** The URN it had before, when an alias moves its state (a rename, not a new resource). */
      renamedFrom?: string;
      /** What the provider makes of the change, where it decides more than the fields say. */
      note?: string;
    };

/** Input paths (`[]` for any element) whose change replaces a resource, by type (scripts/replace-on-change.ts). */
const forceNew: Record<string, string[]> = replaceOnChange.resources;

/**
 * Whether a changed input at `path` (`inputs.disks[0].sourceImage`) replaces a resource of `type`:
 * the provider's ForceNew fields, plus the resource's own `replaceOnChanges` option.
 */
export function forcesReplacement(type: string, path: string, replaceOnChanges: string[] = []): boolean {
  if (!path.startsWith("inputs.")) return false;
  const field = path.slice("inputs.".length).replace(/\[\d+\]/g, "[]");
  // A ForceNew field inside the changed value, or the changed value inside a ForceNew block.
  const within = (outer: string, inner: string) => inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[]`);
  return [...(forceNew[type] ?? []), ...replaceOnChanges].some((f) => within(f, field) || within(field, f));
}

/**
 * What a provider's CustomizeDiff decides beyond its schema's ForceNew fields, by type: the
 * fields it forces a replacement on, and a note on what the update does. Cloud SQL
 * (terraform-provider-google-beta v7.45.0, resource_sql_database_instance.go:256-263):
 * `master_instance_name` is ForceNew, except in a promotion, when `instance_type` goes from
 * READ_REPLICA_INSTANCE to CLOUD_SQL_INSTANCE: the update calls promoteReplica first (:2953) and then
 * applies the settings, a primary's backups among them (:3159).
 */
const customizedDiffs: Record<string, (before: Record<string, unknown>, after: Record<string, unknown>) => { forceNew: string[]; note?: string }> = {
  "gcp:sql/databaseInstance:DatabaseInstance": (before, after) =>
    before.instanceType === "READ_REPLICA_INSTANCE" && after.instanceType === "CLOUD_SQL_INSTANCE"
      ? { forceNew: [], note: "Promoted in place: the replica becomes a primary (promoteReplica), then takes the primary's settings; replication from its old primary ends" }
      : { forceNew: ["masterInstanceName"] },
};

/** What replacing a resource of this type means for the running system, where it means more than a new resource. */
const replacementMeaning: Record<string, string> = {
  "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate":
    "a new template: the group rolls every VM over to it (surge one per zone, then the old VMs go)",
  "gcp:sql/databaseInstance:DatabaseInstance": "a new Cloud SQL instance: the old one and its data are deleted (deletion protection blocks this)",
  "gcp:compute/instance:Instance": "a new VM: the migrator runs Kong's migrations and writes the entities again",
  "gcp:compute/globalAddress:GlobalAddress": "a new address: DNS pointing at the old one stops working",
};

/** Whether a field is one of the resource's `ignoreChanges`: Pulumi keeps its old value, so it does not change. */
function ignored(path: string, ignoreChanges: string[] = []): boolean {
  const field = path.slice("inputs.".length);
  return path.startsWith("inputs.") && ignoreChanges.some((i) => field === i || field.startsWith(`${i}.`) || field.startsWith(`${i}[`));
}

/**
 * A resource in both plans (by URN, or by an alias of the newer): its changes, if any.
 * @param renamed the older plan's URNs that aliases moved, to their new URNs
 */
function changeOf(previous: RecordedResource, r: RecordedResource, renamed: Map<string, string>): ResourceChange | undefined {
  // A rename is the alias's business: the URN, its aliases and references to renamed resources are not changes.
  const asRenamed = (urn: string) => renamed.get(urn) ?? urn;
  const compared = (x: RecordedResource) => {
    const { aliases: _aliases, ...options } = x.options ?? {};
    return { parent: x.parent && asRenamed(x.parent), dependencies: x.dependencies.map(asRenamed).sort(), inputs: x.inputs, options: Object.keys(options).length ? options : undefined };
  };
  const customized = customizedDiffs[r.type]?.(previous.inputs, r.inputs) ?? { forceNew: [] };
  const [was, now] = [compared(previous), compared(r)];
  // Dependencies are a set: what it waits for now and no longer, not a shifted list.
  const dependencies = { path: "dependencies", before: was.dependencies.filter((d) => !now.dependencies.includes(d)), after: now.dependencies.filter((d) => !was.dependencies.includes(d)) };
  const fields = [
    ...(dependencies.before.length || dependencies.after.length ? [dependencies] : []),
    ...diffValues({ ...was, dependencies: [] }, { ...now, dependencies: [] }, ""),
  ]
    .filter((f) => !ignored(f.path, r.options?.ignoreChanges))
    .map((f) => ({ ...f, forcesReplacement: forcesReplacement(r.type, f.path, [...(r.options?.replaceOnChanges ?? []), ...customized.forceNew]) }));
  const renamedFrom = previous.urn !== r.urn ? previous.urn : undefined;
  if (!fields.length && !renamedFrom) return undefined;
  const kind = fields.some((f) => f.forcesReplacement) ? "replaced" : "changed";
  return { kind, urn: r.urn, type: r.type, fields, ...(renamedFrom ? { renamedFrom } : {}), ...(kind === "changed" && customized.note ? { note: customized.note } : {}) };
}

export function diffPlans(before: PlanDocument, after: PlanDocument): ResourceChange[] {
  const old = new Map(before.resources.map((r) => [r.urn, r]));
  // Each newer resource's match: its own URN, else the first alias the older plan holds (Pulumi's rule).
  const matches = after.resources.map((r) => [r, [r.urn, ...(r.options?.aliases ?? [])].find((urn) => old.has(urn))] as const);
  const renamed = new Map(matches.filter(([r, urn]) => urn !== undefined && urn !== r.urn).map(([r, urn]) => [urn!, r.urn]));
  const changes: ResourceChange[] = [];
  for (const [r, previousUrn] of matches) {
    if (previousUrn === undefined) changes.push({ kind: "added", urn: r.urn, type: r.type });
    else {
      const change = changeOf(old.get(previousUrn)!, r, renamed);
      if (change) changes.push(change);
    }
  }
  const matched = new Set(matches.map(([, urn]) => urn));
  for (const [urn, r] of old) if (!matched.has(urn)) changes.push({ kind: "removed", urn, type: r.type, retained: r.options?.retainOnDelete === true });
  return changes.sort((a, b) => a.urn.localeCompare(b.urn));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function diffValues(before: unknown, after: unknown, path: string): Omit<FieldChange, "forcesReplacement">[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffValues(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    return Array.from({ length: Math.max(before.length, after.length) }, (_, i) => diffValues(before[i], after[i], `${path}[${i}]`)).flat();
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path, before, after }];
}

/** Changed lines of two texts (longest common subsequence), with `-`/`+` markers. */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const common: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (i < a.length && (j === b.length || common[i + 1][j] >= common[i][j + 1])) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out;
}

/**
 * A resource reference as its name: Compute self links
 * (`https://www.googleapis.com/compute/v1/projects/p/regions/r/instanceGroups/geo-us-east4`),
 * other Google ids (`projects/p/locations/global/certificateMaps/geo-lb`) and Pulumi URNs.
 */
export function readableName(text: string): string {
  const google = /^(?:https:\/\/www\.googleapis\.com\/compute\/v1\/|\/\/certificatemanager\.googleapis\.com\/)?projects\/[^/]+\/(?:(?:global|(?:regions|zones|locations)\/([^/]+))\/)?([A-Za-z]+)\/([^/?]+)(\?.*)?$/.exec(text);
  if (google) return `${google[2]}/${google[3]}${google[1] && google[1] !== "global" ? ` (${google[1]})` : ""}`;
  const urn = /^urn:pulumi:[^:]+::[^:]+::(.+)::([^:]+)$/.exec(text);
  if (urn) return `${urn[1].split("$").pop()!.split(":").pop()} ${urn[2]}`;
  return text;
}

const readable = (value: unknown): unknown =>
  typeof value === "string" ? readableName(value) : Array.isArray(value) ? value.map(readable) : value;

function renderField(field: FieldChange): string {
  const mark = field.forcesReplacement ? " (forces replacement)" : "";
  if (field.path === "dependencies") {
    const list = (urns: unknown) => (urns as string[]).map((u) => `\`${readableName(u)}\``).join(", ");
    return `- \`dependencies\`: ${[(field.before as string[]).length ? `no longer ${list(field.before)}` : "", (field.after as string[]).length ? `now ${list(field.after)}` : ""].filter(Boolean).join("; ")}`;
  }
  if (typeof field.before === "string" && typeof field.after === "string" && (field.before + field.after).includes("\n")) {
    return `- \`${field.path}\`${mark}:\n\n\`\`\`diff\n${lineDiff(field.before, field.after).join("\n")}\n\`\`\``;
  }
  const show = (v: unknown) => (v === undefined ? "(unset)" : `\`${JSON.stringify(readable(v))}\``);
  return `- \`${field.path}\`${mark}: ${show(field.before)} → ${show(field.after)}`;
}

/** Types whose resources hold data that their deletion loses: a database, stored objects, secrets. */
const holdsData = new Set([
  "gcp:sql/databaseInstance:DatabaseInstance",
  "gcp:storage/bucket:Bucket",
  "gcp:secretmanager/secret:Secret",
  "gcp:secretmanager/secretVersion:SecretVersion",
]);

/** Whether a change deletes data: a data-holding resource replaced, or removed from the cloud (not retained). */
export function losesData(change: ResourceChange): boolean {
  return holdsData.has(change.type) && (change.kind === "replaced" || (change.kind === "removed" && !change.retained));
}

/** What a reviewer must see first: data lost, then replacements, removals, updates, additions. */
function reviewRank(change: ResourceChange): number {
  return losesData(change) ? 0 : ["replaced", "removed", "changed", "added"].indexOf(change.kind) + 1;
}

/** The counts line of a diff, e.g. `1 to add, 0 to change, 2 to replace, 0 to remove`. */
export function changeCounts(changes: ResourceChange[]): string {
  const count = (kind: ResourceChange["kind"]) => changes.filter((c) => c.kind === kind).length;
  const lost = changes.filter(losesData).length;
  return `${count("added")} to add, ${count("changed")} to change, ${count("replaced")} to replace, ${count("removed")} to remove${lost ? ` (${lost} losing data)` : ""}`;
}

/**
 * @param cost the monthly cost's difference (cost-report.ts renderCostDiffMarkdown), shown first
 */
export function renderDiffMarkdown(stack: string, changes: ResourceChange[], cost?: string): string {
  if (changes.length === 0) return `### Offline plan of \`${stack}\`: no changes\n`;
  const sections = [...changes].sort((a, b) => reviewRank(a) - reviewRank(b) || a.urn.localeCompare(b.urn)).map((c) => {
    const title = `**${c.kind}**${losesData(c) ? " (**data loss**)" : ""} \`${c.urn.split("::").pop()}\` (${c.type})`;
    if (c.kind === "removed") return c.retained ? `${title}\n\n> Leaves the stack without a call to the provider (retainOnDelete): it stays in GCP, untouched.\n` : title;
    if (c.kind === "added") return title;
    const renamed = c.renamedFrom ? `, renamed from \`${c.renamedFrom.split("::").pop()}\` (an alias: the same resource)` : "";
    const meaning = c.kind === "replaced" ? `\n\n> Replaced, not updated: ${replacementMeaning[c.type] ?? "created anew, then the old one deleted"}.\n` : c.note ? `\n\n> ${c.note}.\n` : "";
    return `${title}${renamed}${meaning}\n${c.fields.map(renderField).join("\n")}`;
  });
  return [`### Offline plan of \`${stack}\`: ${changeCounts(changes)}`, "", ...(cost ? [cost] : []), ...sections.flatMap((s) => [s, ""])].join("\n");
}
