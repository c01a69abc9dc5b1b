/**
 * Records the project's program over a stack's config under the mock runtime, as `npm run plan`
 * and the tests do. One process can record many stacks: each run loads the program's modules anew
 * while libraries (@pulumi/pulumi, @pulumi/gcp) stay loaded, which is most of the start-up time.
 */
import { join, sep } from "path";
import { Recording, recordProgram } from "./record";
import { projectDir, StackFile } from "./stack-file";

/** The program's own modules, loaded anew for each recording; the recorder and its callers stay. */
const programDirs = ["components", "config", "startup"].map((dir) => join(projectDir, dir) + sep);
const programEntry = join(projectDir, "index.ts");

function requireFresh(path: string): unknown {
  for (const key of Object.keys(require.cache)) {
    if (key === programEntry || programDirs.some((dir) => key.startsWith(dir))) delete require.cache[key];
  }
  return require(path);
}

/** @param priorUrns the URNs of the stack's state, where it has one (RecordOptions.priorUrns) */
export function recordStackFile(file: StackFile, stack: string, priorUrns?: string[]): Promise<Recording> {
  return recordProgram({
    project: file.project,
    stack,
    config: file.config,
    secretKeys: file.secretKeys,
    program: () => requireFresh(join(projectDir, "index")),
    priorUrns,
  });
}
