/**
 * Kong 3.9.1's own code as judge (../shared/kong-check: `kong check`, `kong config parse` and Kong's
 * router, from Kong's source inside Debian's nginx with its Lua module; see its READMEs).
 */
import { spawnSync } from "child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join, resolve } from "path";
import { projectDir } from "../../plan/stack-file";

/** Where the tools are: beside the project's checkout, as in this workspace and its CI. */
export const kongToolsSource = process.env.GEO_KONG_CHECK ?? join(projectDir, "..", "shared", "kong-check");

/** Why the tools cannot run here (absent, or their Debian packages missing), or undefined when they can. */
export function kongToolsUnavailable(): string | undefined {
  if (!existsSync(join(kongToolsSource, "kong-check"))) return `Kong's own checks are not at ${kongToolsSource} (set GEO_KONG_CHECK to their folder)`;
  const probe = spawnSync(join(kongToolsDir(), "kong-check"), [tempFile("kong.conf", "database = off\n")], { encoding: "utf8" });
  return probe.status === 0 ? undefined : `${probe.stderr}${probe.stdout}`.trim() || `kong-check exited with ${probe.status}`;
}

let workingCopy: string | undefined;

/**
 * A working copy of the tools. The workspace's copy of shared/ turns symbolic links into files
 * holding their target (lib/cjson/safe.so holds "../cjson.so", so `require "cjson.safe"` fails
 * with "file too short"); such files become links again.
 */
export function kongToolsDir(): string {
  if (workingCopy) return workingCopy;
  const dir = join(mkdtempSync(join(tmpdir(), "geo-kong-tools-")), "kong-check");
  cpSync(kongToolsSource, dir, { recursive: true });
  spawnSync("chmod", ["-R", "u+w", dir]);
  const restore = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) restore(path);
      else if (entry.isFile() && entry.name.endsWith(".so") && statSync(path).size < 256) {
        const target = readFileSync(path, "utf8").trim();
        if (/^[\w./-]+$/.test(target) && existsSync(resolve(dirname(path), target))) {
          rmSync(path);
          symlinkSync(target, path);
        }
      }
    }
  };
  restore(dir);
  process.on("exit", () => rmSync(dirname(dir), { recursive: true, force: true }));
  workingCopy = dir;
  return dir;
}

export interface KongVerdict {
  status: number | null;
  /** What Kong printed. */
  output: string;
}

/** How many files and requests Kong's own code judged in this process, by tool. */
export const judged: Record<string, number> = { "kong-check": 0, "kong-config-parse": 0, "kong-router requests": 0 };

function runTool(tool: string, args: string[], env: Record<string, string> = {}): KongVerdict {
  // Only the files decide: no KONG_* variable of the test's own environment.
  const result = spawnSync(join(kongToolsDir(), tool), args, { encoding: "utf8", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env }, timeout: 120_000 });
  if (result.error) throw new Error(`${tool} could not run: ${result.error.message}`);
  if (result.status === 2) throw new Error(`${tool} could not run (exit 2): ${result.stderr}${result.stdout}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

function tempFile(name: string, content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "geo-kong-judged-")), name);
  writeFileSync(file, content);
  return file;
}

/**
 * A VM's files where the tools can read them: `place(text)` rewrites every absolute path of a file
 * the VM has (`/etc/kong/cloud-sql-ca.pem`) to a copy of that file, so Kong loads what the boot
 * script writes (a certificate a kong.conf trusts, the declarative config it names).
 */
export function vmFilesPlaced(files: Record<string, string>): (text: string) => string {
  const root = mkdtempSync(join(tmpdir(), "geo-kong-vm-"));
  const placed = Object.keys(files).sort((a, b) => b.length - a.length);
  for (const path of placed) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), files[path]);
  }
  return (text) => placed.reduce((t, path) => t.split(path).join(join(root, path)), text);
}

/** `kong check` on a kong.conf, with Kong's KONG_* overrides in `env` (as a unit's Environment= sets them). */
export function kongCheck(conf: string, env: Record<string, string> = {}): KongVerdict {
  judged["kong-check"]++;
  return runTool("kong-check", [tempFile("kong.conf", conf)], env);
}

/** `kong config parse` on a declarative config, with the node's kong.conf. */
export function kongConfigParse(declarative: string, conf: string, env: Record<string, string> = {}): KongVerdict {
  judged["kong-config-parse"]++;
  return runTool("kong-config-parse", ["--conf", tempFile("kong.conf", conf), tempFile("kong.yaml", declarative)], env);
}

/** What Kong's router did with one request (kong-router --json). */
export interface RouterAnswer {
  input: string;
  /** "proxy", or the HTTP status Kong answered with (404: no route matched). */
  status: "proxy" | number;
  route?: { name: string };
  service?: { name: string };
  upstream_host?: string;
  upstream_port?: number;
  upstream_uri?: string;
  /** e.g. `ip-restriction(route)`; listed, not run. */
  plugins: string[] | Record<string, never>;
}

/** Kong's own router over a declarative config: one answer per request line (`METHOD TARGET [host=H] [ip=IP]`). */
export function kongRoute(declarative: string, conf: string, requests: string[], env: Record<string, string> = {}): RouterAnswer[] {
  judged["kong-router requests"] += requests.length;
  const result = runTool("kong-router", ["--conf", tempFile("kong.conf", conf), "--json", tempFile("kong.yaml", declarative), tempFile("requests.txt", `${requests.join("\n")}\n`)], env);
  if (result.status !== 0) throw new Error(`Kong refused the declarative config: ${result.output}`);
  const answers = result.output.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as RouterAnswer);
  if (answers.length !== requests.length) throw new Error(`kong-router answered ${answers.length} of ${requests.length} requests:\n${result.output}`);
  return answers;
}
