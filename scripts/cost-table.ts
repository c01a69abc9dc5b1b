/**
 * Prints the README topology table's cost row from the example stacks' recorded plans and
 * usage files, as `npm run plan` estimates them.
 * Run: node -r ./scripts/register-ts.js scripts/cost-table.ts
 */
import { estimateCost, type CostEstimate } from "../plan/cost";
import { sumBy, usd } from "../plan/cost-report";
import { snapshotDate } from "../plan/prices";
import { projectDir, readStackFile } from "../plan/stack-file";
import { recordStackFile } from "../plan/stack-recording";
import type { RecordedResource } from "../plan/record";
import { stackUsage } from "../plan/usage";
import { exampleStacks } from "./outage-table";

/** A stack's estimate with its own usage file, where it has one. */
export function stackEstimate(stack: string, resources: RecordedResource[]): CostEstimate {
  return estimateCost(resources, stackUsage(projectDir, stack, resources).usage);
}

/** The three components that cost most, with their share. */
export function largestParts(estimate: CostEstimate, count = 3): { component: string; monthly: number }[] {
  return [...sumBy(estimate.lines, (l) => l.component)].map(([component, monthly]) => ({ component, monthly })).sort((a, b) => b.monthly - a.monthly).slice(0, count);
}

/** The row, one cell per topology in exampleStacks' order. */
export function renderCostRow(estimates: CostEstimate[]): string {
  const cell = (e: CostEstimate) => `${usd(e.fixed)}${e.usageBased ? ` + ${usd(e.usageBased)} usage` : ""}`;
  return `| Monthly estimate (list prices of ${snapshotDate}; usage from \`usage/<stack>.yaml\`) | ${estimates.map(cell).join(" | ")} |`;
}

async function main() {
  const estimates: CostEstimate[] = [];
  for (const stack of Object.values(exampleStacks)) {
    const { resources } = await recordStackFile(readStackFile(projectDir, stack), stack);
    const estimate = stackEstimate(stack, resources);
    estimates.push(estimate);
    console.error(`${stack}: ${usd(estimate.total)}; largest: ${largestParts(estimate).map((p) => `${p.component} ${usd(p.monthly)}`).join(", ")}`);
  }
  console.log(renderCostRow(estimates));
}

if (require.main === module) main();
