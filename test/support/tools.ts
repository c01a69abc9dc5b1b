/** Runs the external checkers (shellcheck, bash, deck) on rendered text. */
import { spawnSync } from "child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join } from "path";

export interface ToolResult {
  status: number | null;
  output: string;
}

/** Writes `content` to a temporary file named `fileName` and runs `command ... <file>`. */
export function checkFile(command: string[], fileName: string, content: string): ToolResult {
  const file = join(mkdtempSync(join(tmpdir(), "geo-check-")), fileName);
  writeFileSync(file, content);
  const [program, ...args] = command;
  const run = spawnSync(program, [...args, file], { encoding: "utf8" });
  if (run.error) throw new Error(`${program} could not run (${run.error.message}); scripts/test.sh installs it`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/**
 * `systemd-analyze verify` on unit files (name to content) in a throwaway root: systemd's own
 * targets and slices copied in, and an empty executable at every path the units execute, so
 * only the units themselves are judged.
 */
export function verifyUnits(units: Record<string, string>): ToolResult {
  const root = mkdtempSync(join(tmpdir(), "geo-units-"));
  const systemDir = "/usr/lib/systemd/system";
  mkdirSync(join(root, systemDir), { recursive: true });
  for (const file of readdirSync(systemDir).filter((f) => /\.(target|slice)$/.test(f))) cpSync(join(systemDir, file), join(root, systemDir, file));
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  for (const [name, content] of Object.entries(units)) {
    writeFileSync(join(root, "etc/systemd/system", name), content);
    for (const [, program] of content.matchAll(/^Exec[A-Za-z]*=[-@+!:]*(\/\S+)/gm)) {
      mkdirSync(join(root, dirname(program)), { recursive: true });
      writeFileSync(join(root, program), "#!/bin/sh\n", { mode: 0o755 });
    }
  }
  // Units of packages the VM installs (docker.service, postgresql.service): stubs, as their packages would provide.
  const provided = new Set([...readdirSync(join(root, systemDir)), ...Object.keys(units)]);
  for (const content of Object.values(units)) {
    for (const [, list] of content.matchAll(/^(?:Requires|Wants|After|BindsTo)=(.*)$/gm)) {
      for (const unit of list.split(/\s+/).filter((u) => u.endsWith(".service") && !provided.has(u))) {
        writeFileSync(join(root, systemDir, unit), "[Service]\nExecStart=/bin/true\n");
        provided.add(unit);
      }
    }
  }
  mkdirSync(join(root, "bin"), { recursive: true });
  writeFileSync(join(root, "bin/true"), "#!/bin/sh\n", { mode: 0o755 });
  const run = spawnSync("systemd-analyze", ["verify", `--root=${root}`, "--man=no", "--generators=no", ...Object.keys(units).map((u) => `/etc/systemd/system/${u}`)], {
    encoding: "utf8",
  });
  if (run.error) throw new Error(`systemd-analyze could not run (${run.error.message})`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
