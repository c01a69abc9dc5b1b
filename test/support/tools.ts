/** Runs the external checkers (shellcheck, bash, deck) on rendered text. */
import { spawnSync } from "child_process";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

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
