/**
 * How many harmful one-line changes the unit suites catch: each mutation of scripts/mutations.json
 * (or the file given) is applied alone to a copy of the project, the unit suites run with --bail,
 * and a mutation counts as caught when they fail. The VM harness is not run (it takes half an hour
 * a run); a mutation only it would catch counts as survived here.
 * Run: node -r ./scripts/register-ts.js scripts/mutation-probe.ts [MUTATIONS_JSON]
 */
import { execFileSync, spawnSync } from "child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join, resolve } from "path";
import { projectDir } from "../plan/stack-file";

interface Mutation {
  file: string;
  from: string;
  to: string;
  harm: string;
}

const listFile = resolve(process.argv[2] ?? join(projectDir, "scripts", "mutations.json"));
const { mutations } = JSON.parse(readFileSync(listFile, "utf8")) as { mutations: Mutation[] };
const copy = mkdtempSync(join(tmpdir(), "mutation-probe-"));
for (const file of execFileSync("git", ["ls-files"], { cwd: projectDir, encoding: "utf8" }).split("\n").filter(Boolean)) {
  mkdirSync(dirname(join(copy, file)), { recursive: true });
  cpSync(join(projectDir, file), join(copy, file));
}
symlinkSync(join(projectDir, "node_modules"), join(copy, "node_modules"));
// Kong's own checks find ../shared/kong-check beside the project, not beside the copy.
const env = { ...process.env, GEO_KONG_CHECK: process.env.GEO_KONG_CHECK ?? resolve(projectDir, "..", "shared", "kong-check") };

const results = mutations.map((m, i) => {
  const path = join(copy, m.file);
  const original = readFileSync(path, "utf8");
  const count = original.split(m.from).length - 1;
  if (count !== 1) throw new Error(`mutation ${i + 1}: "${m.from}" occurs ${count} times in ${m.file}, not once`);
  writeFileSync(path, original.replace(m.from, () => m.to));
  const started = Date.now();
  const run = spawnSync("npx", ["jest", "--bail", "--silent", "--testPathIgnorePatterns", "/test/vm/"], { cwd: copy, env, encoding: "utf8" });
  writeFileSync(path, original);
  const failed = (run.stderr.match(/^\s+● .+$/m) ?? [""])[0].trim();
  const caught = run.status !== 0;
  process.stdout.write(`${caught ? "caught  " : "SURVIVED"} ${String(i + 1).padStart(2)} ${m.file}: ${m.harm} (${((Date.now() - started) / 1000).toFixed(0)} s)${caught ? `\n           by ${failed}` : ""}\n`);
  return caught;
});
rmSync(copy, { recursive: true, force: true });
process.stdout.write(`caught ${results.filter(Boolean).length} of ${results.length}\n`);
process.exitCode = 0;
