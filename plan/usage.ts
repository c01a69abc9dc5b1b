/**
 * The usage file: monthly quantities for the usage-based costs the plan cannot know (traffic,
 * accesses, stored bytes, one-shot VMs' run hours), by resource name, as Infracost's usage file
 * does. Optional: a quantity it does not set is zero and shown as "depends on usage".
 *
 *   # usage/us-multi.yaml
 *   resourceUsage:
 *     geo-lb-http: { dataProcessedGiB: 200, internetEgressGiB: 150 }
 */
import { existsSync, readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { usageKeys } from "./cost";
import type { RecordedResource } from "./record";

/** Resource name → usage key → quantity a month. */
export type Usage = Record<string, Record<string, number>>;

export const usageDir = "usage";

/** Where a stack's usage file is looked for when `--usage` names none. */
export const defaultUsageFile = (projectDir: string, stack: string) => join(projectDir, usageDir, `${stack}.yaml`);

/**
 * A usage file checked against the plan's resources: every name a resource with usage-based
 * costs, every key one it takes, every quantity a number ≥ 0. Throws one message naming each
 * field that is wrong and what is allowed there.
 * @param keys usage keys by resource name (cost.ts usageKeys)
 */
export function readUsage(file: string, keys: Map<string, string[]>): Usage {
  const document = (parse(readFileSync(file, "utf8")) ?? {}) as unknown;
  const problems: string[] = [];
  const known = [...keys].map(([name, k]) => `${name} (${k.join(", ")})`).join("; ");
  const usage: Usage = {};
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObject(document) || Object.keys(document).some((k) => k !== "resourceUsage")) {
    problems.push(`the file must be a mapping with one key, resourceUsage`);
  } else if (document.resourceUsage !== undefined && !isObject(document.resourceUsage)) {
    problems.push("resourceUsage: must map resource names to their quantities");
  } else {
    for (const [name, quantities] of Object.entries(document.resourceUsage ?? {})) {
      const allowed = keys.get(name);
      if (!allowed) {
        problems.push(`resourceUsage.${name}: no resource of this stack by that name has usage-based costs; those that do: ${known}`);
        continue;
      }
      if (!isObject(quantities)) {
        problems.push(`resourceUsage.${name}: must map ${allowed.join(", ")} to monthly quantities`);
        continue;
      }
      usage[name] = {};
      for (const [key, value] of Object.entries(quantities)) {
        if (!allowed.includes(key)) problems.push(`resourceUsage.${name}.${key}: not a quantity of ${name}; allowed: ${allowed.join(", ")}`);
        else if (typeof value !== "number" || !Number.isFinite(value) || value < 0) problems.push(`resourceUsage.${name}.${key}: ${JSON.stringify(value)} is not a number ≥ 0`);
        else usage[name][key] = value;
      }
    }
  }
  if (problems.length) throw new Error(`${file}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  return usage;
}

/**
 * A stack's usage quantities, checked against its resources, and the file they came from: `given`
 * (`--usage`), else usage/<stack>.yaml where it exists; none without a file.
 */
export function stackUsage(projectDir: string, stack: string, resources: RecordedResource[], given?: string): { file?: string; usage: Usage } {
  const file = given ?? defaultUsageFile(projectDir, stack);
  return existsSync(file) ? { file, usage: readUsage(file, usageKeys(resources)) } : { usage: {} };
}
