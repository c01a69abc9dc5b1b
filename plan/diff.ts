/**
 * What a change does to a stack, from two plans: resources added, removed and changed, field by
 * field, as Markdown for a pull-request comment. Works on recorded plans, whose secrets are
 * already "[secret]", so a diff can never reveal one.
 */
import type { PlanDocument } from "./document";
import type { RecordedResource } from "./record";

export interface FieldChange {
  /** Dotted path, e.g. `inputs.settings.tier` or `inputs.disks[0].diskSizeGb`. */
  path: string;
  before: unknown;
  after: unknown;
}

export type ResourceChange =
  | { kind: "added" | "removed"; urn: string; type: string }
  | { kind: "changed"; urn: string; type: string; fields: FieldChange[] };

const compared = (r: RecordedResource) => ({ parent: r.parent, dependencies: r.dependencies, inputs: r.inputs });

export function diffPlans(before: PlanDocument, after: PlanDocument): ResourceChange[] {
  const old = new Map(before.resources.map((r) => [r.urn, r]));
  const now = new Map(after.resources.map((r) => [r.urn, r]));
  const changes: ResourceChange[] = [];
  for (const [urn, r] of now) {
    const previous = old.get(urn);
    if (!previous) changes.push({ kind: "added", urn, type: r.type });
    else {
      const fields = diffValues(compared(previous), compared(r), "");
      if (fields.length) changes.push({ kind: "changed", urn, type: r.type, fields });
    }
  }
  for (const [urn, r] of old) if (!now.has(urn)) changes.push({ kind: "removed", urn, type: r.type });
  return changes.sort((a, b) => a.urn.localeCompare(b.urn));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function diffValues(before: unknown, after: unknown, path: string): FieldChange[] {
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

function renderField(field: FieldChange): string {
  if (typeof field.before === "string" && typeof field.after === "string" && (field.before + field.after).includes("\n")) {
    return `- \`${field.path}\`:\n\n\`\`\`diff\n${lineDiff(field.before, field.after).join("\n")}\n\`\`\``;
  }
  const show = (v: unknown) => (v === undefined ? "(unset)" : `\`${JSON.stringify(v)}\``);
  return `- \`${field.path}\`: ${show(field.before)} → ${show(field.after)}`;
}

export function renderDiffMarkdown(stack: string, changes: ResourceChange[]): string {
  if (changes.length === 0) return `### Offline plan of \`${stack}\`: no changes\n`;
  const count = (kind: ResourceChange["kind"]) => changes.filter((c) => c.kind === kind).length;
  const sections = changes.map((c) => {
    const title = `**${c.kind}** \`${c.urn.split("::").pop()}\` (${c.type})`;
    return c.kind === "changed" ? `${title}\n${c.fields.map(renderField).join("\n")}` : title;
  });
  return [
    `### Offline plan of \`${stack}\`: ${count("added")} to add, ${count("changed")} to change, ${count("removed")} to remove`,
    "",
    ...sections.flatMap((s) => [s, ""]),
  ].join("\n");
}
