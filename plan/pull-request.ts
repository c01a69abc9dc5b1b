/**
 * The pull request's comment: every example stack's offline diff in one Markdown body, the
 * monthly cost's difference at the top, the stacks whose change loses data or replaces resources
 * first, a stack without changes in one line. It carries a marker, so the workflow finds the
 * comment it wrote before and updates it in place (scripts/pull-request-comment.ts).
 */
import { estimateCost } from "./cost";
import { costDifference, renderCostDiffMarkdown, usd } from "./cost-report";
import { changeCounts, diffPlans, losesData, renderDiffMarkdown, type ResourceChange } from "./diff";
import type { PlanDocument } from "./document";
import type { Usage } from "./usage";

export const commentMarker = "<!-- geo-api-layer offline plan -->";

/** GitHub refuses comments longer than 65,536 characters; the rest of the body needs room. */
export const commentLimit = 60_000;

export interface StackPlans {
  stack: string;
  /** The base branch's plan; absent for a stack this pull request adds. */
  before?: PlanDocument;
  after: PlanDocument;
  usage: Usage;
}

interface StackDiff {
  stack: string;
  changes: ResourceChange[];
  text: string;
  headline: string;
  rank: number;
}

function stackDiff({ stack, before, after, usage }: StackPlans): StackDiff {
  const base = before ?? { ...after, resources: [] };
  const changes = diffPlans(base, after);
  const [was, now] = [estimateCost(base.resources, usage), estimateCost(after.resources, usage)];
  const rank = changes.some(losesData) ? 0 : changes.some((c) => c.kind === "replaced") ? 1 : changes.length ? 2 : 3;
  const headline = `| \`${stack}\`${before ? "" : " (new stack)"} | ${usd(was.total)} | ${usd(now.total)} | ${costDifference(was, now)} | ${changes.length ? changeCounts(changes) : "no changes"} |`;
  return { stack, changes, text: renderDiffMarkdown(stack, changes, renderCostDiffMarkdown(was, now)), headline, rank };
}

/**
 * @param details where the full plans are when a diff is too long for the comment (the job summary, the artifact)
 */
export function pullRequestComment(stacks: StackPlans[], details: string): string {
  const diffs = stacks.map(stackDiff).sort((a, b) => a.rank - b.rank || a.stack.localeCompare(b.stack));
  const lost = diffs.flatMap((d) => d.changes.filter(losesData).map((c) => `\`${d.stack}\`: ${c.kind} \`${c.urn.split("::").pop()}\``));
  const head = [
    commentMarker,
    "## Offline plan of this pull request",
    "",
    "| Stack | Monthly cost before | After | Difference | Resources |",
    "| --- | ---: | ---: | ---: | --- |",
    ...diffs.map((d) => d.headline),
    "",
    ...(lost.length ? [`> [!CAUTION]\n> Deletes data: ${lost.join("; ")}.`, ""] : []),
  ];
  const unchanged = diffs.filter((d) => !d.changes.length).map((d) => `- \`${d.stack}\`: no changes`);
  const bodies = diffs.filter((d) => d.changes.length).map((d) => d.text);
  const assemble = () => [...head, ...bodies.flatMap((b) => [b, ""]), ...unchanged].join("\n") + "\n";
  // Too long: the largest stacks' details give way to their counts, and say where the rest is.
  const shortened = new Set<number>();
  let comment = assemble();
  while (comment.length > commentLimit && shortened.size < bodies.length) {
    const left = bodies.map((_, i) => i).filter((i) => !shortened.has(i));
    const largest = left.reduce((best, i) => (bodies[i].length > bodies[best].length ? i : best));
    bodies[largest] = `${bodies[largest].split("\n")[0]}\n\nToo long for a comment: ${details}.`;
    shortened.add(largest);
    comment = assemble();
  }
  return comment;
}
