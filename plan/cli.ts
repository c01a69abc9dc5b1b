/**
 * `npm run plan`: the offline preview. Runs the program under Pulumi's mock runtime with a stack's
 * config file, prints the resource tree and a summary, and writes the plan, the VMs' files and a
 * diagram to a folder. With --diff, prints what changed against an older plan.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { basename, dirname, join, relative, resolve } from "path";
import type { PlanDocument } from "./document";
import { projectDir, readStackFile } from "./stack-file";

interface Options {
  stack: string;
  /** A stack config file other than `Pulumi.<stack>.yaml`, e.g. a modified copy. */
  stackFile?: string;
  out: string;
  diff?: string;
  /** The usage file for usage-based costs; default usage/<stack>.yaml where it exists. */
  usage?: string;
}

const usage = `usage: npm run plan -- [--stack NAME] [--stack-file PATH] [--out DIR] [--diff OLD_PLAN.json]

  --stack NAME       the stack (resource names and URNs); default us-multi, or the name in
                     --stack-file's file name (Pulumi.<name>.yaml)
  --stack-file PATH  its config from PATH instead of Pulumi.<NAME>.yaml beside Pulumi.yaml:
                     a modified copy with --stack of the original diffs resource by resource
  --out DIR          where the plan goes; default plan-output/<NAME> beside the stack file
  --diff OLD         compare with an older plan.json (read before anything is written, so the
                     default output's own plan.json works), its monthly cost too; exit 0
                     unchanged, 2 changed
  --usage FILE       monthly quantities for usage-based costs (traffic, accesses, storage);
                     default usage/<NAME>.yaml beside Pulumi.yaml, where it exists
  --help             this text

Exit codes: 0 planned (and unchanged with --diff), 2 changed, 1 invalid config, a policy
violation or a usage error.`;

class UsageError extends Error {}

/** The stacks whose config files sit beside Pulumi.yaml. */
function knownStacks(): string[] {
  return readdirSync(projectDir)
    .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

export function parseArgs(argv: string[]): Options | "help" {
  const given: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--help" || flag === "-h") return "help";
    const value = argv[i + 1];
    if (!["--stack", "--stack-file", "--out", "--diff", "--usage"].includes(flag)) throw new UsageError(`unknown argument "${flag}"`);
    if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a value`);
    given[flag.slice(2)] = value;
    i++;
  }
  const stackFile = given["stack-file"] && resolve(given["stack-file"]);
  if (stackFile && !existsSync(stackFile)) throw new UsageError(`--stack-file ${given["stack-file"]}: no such file`);
  const stack = given.stack ?? (stackFile ? basename(stackFile).replace(/^Pulumi\./, "").replace(/\.ya?ml$/, "") : "us-multi");
  if (!stackFile && !knownStacks().includes(stack)) {
    throw new UsageError(`unknown stack "${stack}": no Pulumi.${stack}.yaml beside Pulumi.yaml; stacks here: ${knownStacks().join(", ")}`);
  }
  for (const flag of ["diff", "usage"]) if (given[flag] && !existsSync(given[flag])) throw new UsageError(`--${flag} ${given[flag]}: no such file`);
  const out = given.out ?? join(stackFile ? dirname(stackFile) : projectDir, "plan-output", stack);
  return { stack, stackFile, out, diff: given.diff, usage: given.usage };
}


function write(path: string, content: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** Where a run writes: the process's streams, or a test's buffers. */
export interface PlanOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/**
 * One `npm run plan`, in this process: the exit code (0 planned or unchanged, 2 changed, 1 invalid
 * config, a policy violation or a usage error).
 */
export async function runPlan(argv: string[], output: PlanOutput): Promise<number> {
  try {
    return await planCommand(argv, output);
  } catch (error) {
    const message = (error as Error).message;
    output.stderr(error instanceof UsageError ? `${message}\n\n${usage}\n` : `plan failed: ${message}\n`);
    return 1;
  }
}

async function planCommand(argv: string[], output: PlanOutput): Promise<number> {
  const options = parseArgs(argv);
  if (options === "help") {
    output.stdout(`${usage}\n`);
    return 0;
  }
  // What the plan is doing, on stderr: stdout carries only the plan, for pipes and diffs.
  const progress = (message: string) => output.stderr(`${message}\n`);
  // Loaded only now: @pulumi/pulumi and @pulumi/gcp take seconds, which a usage error should not.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { filesWrittenBy } = require("../startup/startup-script") as typeof import("../startup/startup-script");
  const { criticalPath, renderCriticalPath } = require("./critical-path") as typeof import("./critical-path");
  const { architectureDot, renderSvg } = require("./diagram") as typeof import("./diagram");
  const { diffPlans, renderDiffMarkdown } = require("./diff") as typeof import("./diff");
  const { stableJson, toPlanDocument } = require("./document") as typeof import("./document");
  const { checkPolicies, policyResource, policyRules } = require("../policy/rules") as typeof import("../policy/rules");
  const { recordStackFile } = require("./stack-recording") as typeof import("./stack-recording");
  const { renderSummary, renderTree } = require("./tree") as typeof import("./tree");
  const { renderBuilds } = require("./builds") as typeof import("./builds");
  const { renderAlerting } = require("./alerting") as typeof import("./alerting");
  const { estimateCost } = require("./cost") as typeof import("./cost");
  const { renderCostDiffMarkdown, renderEstimate } = require("./cost-report") as typeof import("./cost-report");
  const { defaultUsageFile, stackUsage } = require("./usage") as typeof import("./usage");
  /* eslint-enable @typescript-eslint/no-require-imports */

  // Before anything is written: the old plan may be the one the output folder holds.
  const before = options.diff ? (JSON.parse(readFileSync(options.diff, "utf8")) as PlanDocument) : undefined;
  const started = Date.now();
  progress(`planning stack ${options.stack}${options.stackFile ? ` from ${options.stackFile}` : ""} under the mock runtime…`);
  const file = readStackFile(projectDir, options.stack, options.stackFile);
  // The older plan stands for the stack's state: aliased resources keep their identity from it.
  const recording = await recordStackFile(file, options.stack, before?.resources.map((r) => r.urn));
  const plan = toPlanDocument(file.project, options.stack, recording.resources);
  const { errors } = recording;
  if (errors.length) {
    output.stderr(`${errors.join("\n")}\n`);
    return 1;
  }
  progress(`recorded ${plan.resources.length} resources in ${((Date.now() - started) / 1000).toFixed(1)} s; checking policies and writing ${options.out}…`);
  const { file: usageFile, usage: quantities } = stackUsage(projectDir, options.stack, plan.resources, options.usage);
  const cost = estimateCost(plan.resources, quantities);
  const path = criticalPath(plan.resources);
  output.stdout(`Offline plan of stack ${options.stack} (Pulumi mock runtime, no cloud calls)\n\n`);
  output.stdout(renderTree(plan.resources));
  output.stdout(`\n${renderSummary(plan.resources)}${renderCriticalPath(path)}${renderBuilds(plan.resources)}${renderAlerting(plan.resources)}`);
  output.stdout(renderEstimate(cost, relative(process.cwd(), usageFile ?? defaultUsageFile(projectDir, options.stack)), usageFile !== undefined));
  // The policy pack's rules, offline: CI enforces them without the Pulumi CLI.
  const policyResources = plan.resources.map(policyResource);
  const violations = checkPolicies(policyResources);
  const advisories = checkPolicies(policyResources, "advisory");
  output.stdout(`Policies: ${policyRules.length} rules, ${violations.length} violations, ${advisories.length} advisories\n`);
  for (const v of [...violations, ...advisories]) output.stdout(`  ${v.rule}: ${v.resource}: ${v.message}\n`);

  rmSync(options.out, { recursive: true, force: true });
  write(join(options.out, "plan.json"), stableJson(plan));
  write(join(options.out, "critical-path.txt"), renderCriticalPath(path));
  write(join(options.out, "cost.json"), stableJson(cost));
  for (const r of plan.resources) {
    const script = (r.inputs as { metadataStartupScript?: string }).metadataStartupScript;
    if (!script) continue;
    write(join(options.out, "vms", r.name, "startup-script.sh"), script);
    for (const [file, content] of Object.entries(filesWrittenBy(script))) write(join(options.out, "vms", r.name, "files", file), content);
  }
  progress("drawing the diagram…");
  const dot = architectureDot(plan.resources);
  write(join(options.out, "architecture.dot"), dot);
  write(join(options.out, "architecture.svg"), await renderSvg(dot));
  output.stdout(`\nWrote ${options.out}: plan.json, cost.json, critical-path.txt, architecture.svg, vms/<vm>/startup-script.sh and files/\n`);

  if (!before) return violations.length ? 1 : 0;
  const changes = diffPlans(before, plan);
  // The older plan priced at today's snapshot and usage: the difference is the change's, not the prices'.
  output.stdout(`\n${renderDiffMarkdown(options.stack, changes, renderCostDiffMarkdown(estimateCost(before.resources, quantities), cost))}`);
  const changing = new Set(changes.filter((c) => c.kind !== "removed").map((c) => c.urn));
  output.stdout(`\n${renderCriticalPath(criticalPath(plan.resources, undefined, changing), "Critical path of this change")}`);
  return violations.length ? 1 : changes.length ? 2 : 0;
}

if (require.main === module) {
  runPlan(process.argv.slice(2), { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) }).then((code) => {
    process.exitCode = code;
  });
}
