/** No secret value reaches the recorded plan or any file the plan writes, in any topology. */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { mockPassword } from "../plan/mock-cloud";
import { planCommand, projectDir } from "./support/stack";

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const stacks = ["us-multi", "us-standalone", "us-sidecar", "us-dbless"];
const runs: Record<string, { status: number | null; stdout: string; stderr: string; out: string }> = {};

/** `npm run plan` of the stack file plus a `secure:` value, as `pulumi config set --secret` would write it. */
async function planWithSecret(stack: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "secrets-"));
  const stackFile = join(work, `Pulumi.${stack}.yaml`);
  writeFileSync(stackFile, `${readFileSync(join(projectDir, `Pulumi.${stack}.yaml`), "utf8")}  gcp:credentials:\n    secure: v1:c2VjcmV0LWNpcGhlcnRleHQ=\n`);
  const out = join(work, "out");
  runs[stack] = { ...(await planCommand("--stack-file", stackFile, "--out", out)), out };
}

beforeAll(async () => {
  for (const stack of stacks) await planWithSecret(stack);
});

describe.each(stacks)("the plan of %s", (stack) => {
  const secrets = [mockPassword("geo-db-password"), "placeholder-for-gcp:credentials", "v1:c2VjcmV0LWNpcGhlcnRleHQ="];

  it("runs", () => {
    // stderr carries only the plan's progress lines.
    const progress = /^(planning stack |recorded \d+ resources in |drawing the diagram)/;
    const run = runs[stack];
    expect({ status: run.status, stderr: run.stderr.split("\n").filter((line) => line && !progress.test(line)) }).toEqual({ status: 0, stderr: [] });
  });

  it("shows no secret in its output or in any file it writes", () => {
    const { stdout, out } = runs[stack];
    const texts = [stdout, ...filesUnder(out).map((f) => readFileSync(f, "utf8"))];
    expect(texts.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(texts.filter((t) => t.includes(secret))).toEqual([]);
  });

  it("marks the database password secret where it is used", () => {
    const plan = readFileSync(join(runs[stack].out, "plan.json"), "utf8");
    if (stack === "us-multi" || stack === "us-standalone") {
      expect(plan).toMatch(/"secretData": "\[secret\]"/);
      expect(plan).toMatch(/"password": "\[secret\]"/);
    } else {
      expect(plan).not.toContain("gcp:secretmanager/secretVersion:SecretVersion");
    }
  });
});
