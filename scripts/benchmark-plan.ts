/**
 * Wall time and peak memory of the offline plan: the us-multi stack, then generated stacks of
 * 1, 3, 6 and 12 regions with the same services and per-region resources. Each is planned in a
 * fresh Node process (as `npm run plan` would be): once to warm the disk cache and swc's transform
 * cache, then RUNS times; minimum, median and maximum are reported.
 * Run: node -r ./scripts/register-ts.js scripts/benchmark-plan.ts [RUNS]
 */
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse, stringify } from "yaml";
import { projectDir } from "../plan/stack-file";

const runs = Number(process.argv[2] ?? 3);
const work = mkdtempSync(join(tmpdir(), "plan-bench-"));
const regionPool = [
  "us-central1", "us-east4", "us-west2", "europe-west1", "europe-west4", "asia-northeast1",
  "us-east1", "us-west1", "europe-west2", "asia-southeast1", "australia-southeast1", "southamerica-east1",
];

function generatedStack(regionCount: number): string {
  const usMulti = parse(readFileSync(join(projectDir, "Pulumi.us-multi.yaml"), "utf8")) as { config: Record<string, unknown> };
  const regions = Object.fromEntries(regionPool.slice(0, regionCount).map((r) => [r, {}]));
  // Regions on several continents share no multi-region: the pictures bucket names its own.
  const pictures = { ...(usMulti.config["geo-api-layer:pictures"] as object), location: "US" };
  const config = { ...usMulti.config, "geo-api-layer:regions": regions, "geo-api-layer:database": { region: regionPool[0] }, "geo-api-layer:pictures": pictures };
  const file = join(work, `Pulumi.bench-${regionCount}-regions.yaml`);
  writeFileSync(file, stringify({ config }));
  return file;
}

function planOnce(args: string[]): { ms: number; peakMb: number; resources: number } {
  const started = process.hrtime.bigint();
  const result = spawnSync(
    "node",
    ["-r", "./scripts/register-ts.js", "-r", "./scripts/report-peak-memory.js", "plan/cli.ts", ...args, "--out", join(work, "out")],
    { cwd: projectDir, encoding: "utf8" },
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`plan failed: ${result.stderr}`);
  const peakKb = Number(/peak-rss-kb (\d+)/.exec(result.stderr)![1]);
  const resources = Number(/Resources: (\d+) to create/.exec(result.stdout)![1]);
  return { ms, peakMb: peakKb / 1024, resources };
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const median = (values: number[]) => sorted(values)[Math.floor(values.length / 2)];
const spread = (values: number[]) => [sorted(values)[0], median(values), sorted(values)[values.length - 1]].map((v) => v.toFixed(0).padStart(6)).join(" ");

const cases: [string, string[]][] = [
  ["us-multi", ["--stack", "us-multi"]],
  ...[1, 3, 6, 12].map((n): [string, string[]] => [`${n} region${n > 1 ? "s" : ""}`, ["--stack-file", generatedStack(n)]]),
];
try {
  console.log(`offline plan: ${runs} runs per stack after one warm-up, each in a fresh process (includes Node start and the SVG)`);
  console.log("stack        resources    wall ms (min median max)    peak MB (min median max)");
  for (const [label, args] of cases) {
    planOnce(args);
    const samples = Array.from({ length: runs }, () => planOnce(args));
    console.log(
      `${label.padEnd(12)} ${String(samples[0].resources).padStart(9)}    ${spread(samples.map((s) => s.ms))}       ${spread(samples.map((s) => s.peakMb))}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
