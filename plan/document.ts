/** The plan as data: every resource, sorted and with sorted keys, so equal programs give equal files. */
import type { RecordedResource } from "./record";

export interface PlanDocument {
  project: string;
  stack: string;
  /** Sorted by URN. */
  resources: RecordedResource[];
}

export function toPlanDocument(project: string, stack: string, resources: RecordedResource[]): PlanDocument {
  return { project, stack, resources: [...resources].sort((a, b) => a.urn.localeCompare(b.urn)) };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

export function stableJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

/** Resource count by type, most frequent first. */
export function countByType(resources: RecordedResource[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
