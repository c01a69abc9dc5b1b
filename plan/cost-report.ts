/** The cost estimate as `npm run plan` prints it, and two estimates' difference as Markdown for a diff. */
import { round, type CostEstimate, type CostLine } from "./cost";
import { priceSources } from "./prices";

export const usd = (n: number) => `${n < 0 ? "-" : ""}$${Math.abs(n).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const signedUsd = (n: number) => (n > 0 ? `+${usd(n)}` : n < 0 ? usd(n) : "$0.00");
/** A unit price: cents where it has them, else as many digits as it takes (a NAT IP's $3.65, a GiB's $0.008). */
const unitUsd = (n: number) => `$${n >= 1 || Number(n.toFixed(2)) === n ? n.toFixed(2) : Number(n.toPrecision(3)).toString()}`;
/** The lines' monthly figures summed by a key: a component, a resource. */
export function sumBy<K>(lines: CostLine[], key: (l: CostLine) => K): Map<K, number> {
  const sums = new Map<K, number>();
  for (const l of lines) sums.set(key(l), round((sums.get(key(l)) ?? 0) + l.monthly));
  return sums;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i >= r.length - 2 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ").trimEnd());
}

/**
 * @param usageFile the usage file the estimate read, or where one would be read (`usage/<stack>.yaml`)
 * @param usageRead whether it exists
 */
export function renderEstimate(estimate: CostEstimate, usageFile: string, usageRead: boolean): string {
  const byComponent = sumBy(estimate.lines, (l) => l.component);
  const components = [...byComponent].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const rows: string[][] = [];
  const shown = estimate.lines.filter((l) => !(l.usage && !l.usage.set));
  for (const [component, monthly] of components.filter(([c]) => shown.some((l) => l.component === c))) {
    rows.push([component, "", "", "", usd(monthly)]);
    for (const l of shown.filter((x) => x.component === component)) {
      const price = l.unitPrice === undefined ? "not priced" : `${Number(l.quantity.toFixed(2))} ${l.unit} × ${unitUsd(l.unitPrice)}`;
      rows.push([`  ${l.resource}`, l.item, l.region, price, usd(l.monthly)]);
    }
  }
  const unset = estimate.lines.filter((l) => l.usage && !l.usage.set);
  const usageNote = usageRead ? `usage from ${usageFile}` : `no usage file (${usageFile})`;
  return [
    `Monthly cost estimate: ${usd(estimate.total)} at list prices (fixed ${usd(estimate.fixed)}, usage-based ${usd(estimate.usageBased)}; ${usageNote})`,
    ...priceSources.map((s) => `  prices: ${s}`),
    ...table(rows).map((r) => `  ${r}`),
    ...(unset.length
      ? [
          `  Depends on usage: set resourceUsage.<resource>.<key> in ${usageFile} to count it`,
          ...unset.map((l) => `    ${l.resource}.${l.usage!.key}: ${l.unitPrice === undefined ? "not priced" : `${unitUsd(l.unitPrice)} per ${l.unit}`} (${l.item}, ${l.region})`),
        ]
      : []),
    ...(estimate.assumptions.length ? ["  Assumptions:", ...estimate.assumptions.map((a) => `    - ${a}`)] : []),
    `  No charge of their own: ${estimate.free.map((f) => `${f.count} ${f.type.split(":").pop()}`).join(", ")}`,
  ].join("\n") + "\n";
}

export interface ResourceCostChange {
  resource: string;
  component: string;
  before: number;
  after: number;
}

/** The resources whose monthly cost differs between two estimates, largest difference first. */
export function costChanges(before: CostEstimate, after: CostEstimate): ResourceCostChange[] {
  const was = sumBy(before.lines, (l) => l.urn);
  const now = sumBy(after.lines, (l) => l.urn);
  const named = new Map([...before.lines, ...after.lines].map((l) => [l.urn, l]));
  return [...new Set([...was.keys(), ...now.keys()])]
    .map((urn) => ({ resource: named.get(urn)!.resource, component: named.get(urn)!.component, before: was.get(urn) ?? 0, after: now.get(urn) ?? 0 }))
    .filter((c) => c.before !== c.after)
    .sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before) || a.resource.localeCompare(b.resource));
}

/** The month's difference, e.g. `+$537.24 (+52.1%)`. */
export function costDifference(before: CostEstimate, after: CostEstimate): string {
  const difference = round(after.total - before.total);
  const percent = before.total ? ` (${difference > 0 ? "+" : ""}${((difference / before.total) * 100).toFixed(1)}%)` : "";
  return `${signedUsd(difference)}${percent}`;
}

/** One line: the month's cost before, after and the difference. */
export function costHeadline(before: CostEstimate, after: CostEstimate): string {
  return `${usd(before.total)} → ${usd(after.total)} a month, ${costDifference(before, after)}`;
}

export function renderCostDiffMarkdown(before: CostEstimate, after: CostEstimate): string {
  const changes = costChanges(before, after);
  const head = `**Monthly cost**: ${costHeadline(before, after)}`;
  if (!changes.length) return `${head}\n`;
  return [
    head,
    "",
    "| Resource | Component | Before | After | Difference |",
    "| --- | --- | ---: | ---: | ---: |",
    ...changes.map((c) => `| \`${c.resource}\` | ${c.component} | ${usd(c.before)} | ${usd(c.after)} | ${signedUsd(round(c.after - c.before))} |`),
    `| **Total** | | ${usd(before.total)} | ${usd(after.total)} | ${signedUsd(round(after.total - before.total))} |`,
    "",
  ].join("\n");
}
