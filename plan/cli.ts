/**
 * `npm run plan [-- --stack NAME | --stack-file PATH] [--out DIR] [--diff OLD_PLAN.json]`: the offline preview.
 * Runs the program under Pulumi's mock runtime with the stack's own config file, prints the
 * resource tree and a summary, and writes the plan, the VMs' files and a diagram to DIR.
 * With --diff, prints what changed against an older plan; exit code 0 unchanged, 2 changed.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { basename, dirname, join } from "path";
import { filesWrittenBy } from "../startup/startup-script";
import { criticalPath, renderCriticalPath } from "./critical-path";
import { architectureDot, renderSvg } from "./diagram";
import { diffPlans, renderDiffMarkdown } from "./diff";
import { PlanDocument, stableJson, toPlanDocument } from "./document";
import { checkPolicies, policyResource, policyRules } from "../policy/rules";
import { readStackFile } from "./stack-file";
import { projectDir, recordStackFile } from "./stack-recording";
import { renderSummary, renderTree } from "./tree";

interface Options {
  stack: string;
  /** A stack config file outside the project, e.g. a generated one. */
  "stack-file"?: string;
  out: string;
  diff?: string;
}

const usage = "usage: npm run plan -- [--stack NAME | --stack-file PATH] [--out DIR] [--diff OLD_PLAN.json]";

function parseArgs(argv: string[]): Options {
  const options: Options = { stack: "us-multi", out: "" };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!["--stack", "--stack-file", "--out", "--diff"].includes(flag) || value === undefined) throw new Error(`${usage} (at "${flag}")`);
    options[flag.slice(2) as keyof Options] = value;
    i++;
  }
  const file = options["stack-file"];
  if (file) options.stack = basename(file).replace(/^Pulumi\./, "").replace(/\.ya?ml$/, "");
  options.out ||= join(projectDir, "plan-output", options.stack);
  return options;
}

/** The plan of a stack file, recorded under the mock runtime. */
export async function planStack(stack: string, stackFile?: string): Promise<{ plan: PlanDocument; errors: string[] }> {
  const file = readStackFile(projectDir, stack, stackFile);
  const recording = await recordStackFile(file, stack);
  return { plan: toPlanDocument(file.project, stack, recording.resources), errors: recording.errors };
}

function write(path: string, content: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { plan, errors } = await planStack(options.stack, options["stack-file"]);
  if (errors.length) {
    process.stderr.write(`${errors.join("\n")}\n`);
    process.exit(1);
  }
  const path = criticalPath(plan.resources);
  process.stdout.write(`Offline plan of stack ${options.stack} (Pulumi mock runtime, no cloud calls)\n\n`);
  process.stdout.write(renderTree(plan.resources));
  process.stdout.write(`\n${renderSummary(plan.resources)}${renderCriticalPath(path)}`);
  // The policy pack's rules, offline: CI enforces them without the Pulumi CLI.
  const policyResources = plan.resources.map(policyResource);
  const violations = checkPolicies(policyResources);
  const advisories = checkPolicies(policyResources, "advisory");
  process.stdout.write(`Policies: ${policyRules.length} rules, ${violations.length} violations, ${advisories.length} advisories\n`);
  for (const v of [...violations, ...advisories]) process.stdout.write(`  ${v.rule}: ${v.resource}: ${v.message}\n`);

  rmSync(options.out, { recursive: true, force: true });
  write(join(options.out, "plan.json"), stableJson(plan));
  write(join(options.out, "critical-path.txt"), renderCriticalPath(path));
  for (const r of plan.resources) {
    const script = (r.inputs as { metadataStartupScript?: string }).metadataStartupScript;
    if (!script) continue;
    write(join(options.out, "vms", r.name, "startup-script.sh"), script);
    for (const [file, content] of Object.entries(filesWrittenBy(script))) write(join(options.out, "vms", r.name, "files", file), content);
  }
  const dot = architectureDot(plan.resources);
  write(join(options.out, "architecture.dot"), dot);
  write(join(options.out, "architecture.svg"), await renderSvg(dot));
  process.stdout.write(`\nWrote ${options.out}: plan.json, critical-path.txt, architecture.svg, vms/<vm>/startup-script.sh and files/\n`);

  if (violations.length) process.exitCode = 1;
  if (options.diff) {
    const before = JSON.parse(readFileSync(options.diff, "utf8")) as PlanDocument;
    const changes = diffPlans(before, plan);
    process.stdout.write(`\n${renderDiffMarkdown(options.stack, changes)}`);
    process.exit(violations.length ? 1 : changes.length ? 2 : 0);
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`plan failed: ${error.message}\n`);
    process.exit(1);
  });
}
