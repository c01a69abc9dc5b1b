/** The plan as `pulumi preview` prints it: a tree of resources grouped by component. */
import { countByType } from "./document";
import type { RecordedResource } from "./record";

export function renderTree(resources: RecordedResource[]): string {
  const children = new Map<string, RecordedResource[]>();
  const roots: RecordedResource[] = [];
  const known = new Set(resources.map((r) => r.urn));
  for (const r of resources) {
    if (r.parent && known.has(r.parent)) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    else roots.push(r);
  }
  const byName = (a: RecordedResource, b: RecordedResource) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type);
  const rows: [string, string][] = [];
  const walk = (r: RecordedResource, indent: string, last: boolean, depth: number) => {
    const branch = depth === 0 ? "" : last ? "└─ " : "├─ ";
    rows.push([`${indent}${branch}${r.type}`, r.name]);
    const kids = (children.get(r.urn) ?? []).sort(byName);
    const childIndent = depth === 0 ? "" : `${indent}${last ? "   " : "│  "}`;
    kids.forEach((kid, i) => walk(kid, childIndent, i === kids.length - 1, depth + 1));
  };
  roots.sort(byName).forEach((root) => walk(root, "", true, 0));
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = rows.map(([left, name]) => ` +  ${left.padEnd(width)}${name}`);
  return `${lines.join("\n")}\n`;
}

/** Words joined by ", " into lines of at most `width` characters, each after `indent`. */
export function wrapList(words: string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  for (const word of words) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 2 + word.length <= width) lines[lines.length - 1] = `${last}, ${word}`;
    else lines.push(`${indent}${word}`);
  }
  return lines;
}

export function renderSummary(resources: RecordedResource[]): string {
  const custom = resources.filter((r) => r.custom);
  const types = countByType(custom).map(([type, n]) => `${n} ${type.split(":").pop()}`);
  const heading = `Resources: ${resources.length} to create (${custom.length} cloud resources, ${resources.length - custom.length} components):`;
  return [heading, ...wrapList(types, 100, "  ")].join("\n") + "\n";
}
