/** Runs the real program over a stack file under the mock runtime, for component tests. */
import Module from "module";
import { join } from "path";
import type { RecordedResource, Recording } from "../../plan/record";
import { projectDir, readStackFile } from "../../plan/stack-file";

export { projectDir };

// Node's own loader (Jest's `createRequire` returns Jest's), with TypeScript as `npm run plan` loads it.
const nodeLoad = (Module as unknown as { _load(path: string, parent: null, isMain: false): unknown })._load;
nodeLoad(join(projectDir, "scripts", "register-ts.js"), null, false);
const recordedStacks = nodeLoad(join(__dirname, "recorded-stacks.ts"), null, false) as typeof import("./recorded-stacks");

/**
 * Records the program over `Pulumi.<stack>.yaml`, with `overrides` (keys without the namespace,
 * values as they would be in the stack file) applied on top; `null` removes a key. A copy, so a
 * test cannot change what another test sees.
 */
export async function recordStack(stack: string, overrides: Record<string, unknown> = {}): Promise<Recording> {
  return structuredClone(await recordedStacks.recordStack(stack, overrides));
}

/** Recordings from here on report the builds stored in `dir` (the VM harness's Cloud Storage). */
export const useStoredBuilds = (dir: string) => recordedStacks.useStoredBuilds(dir);

/** `npm run plan` with `args` in this worker's process (pulumi already loaded): its exit code and output. */
export const planCommand = (...args: string[]) => recordedStacks.runPlanCommand(args);

export function ofType(recording: Recording, type: string): RecordedResource[] {
  return recording.resources.filter((r) => r.type === type);
}

export function one(recording: Recording, type: string): RecordedResource {
  const found = ofType(recording, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

/** Test-friendly access to nested inputs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const inputs = (r: RecordedResource): any => r.inputs;

/** The stack file's services, for tests that change one field of them. */
export function stackServices(stack: string): Record<string, unknown>[] {
  const file = readStackFile(projectDir, stack);
  return JSON.parse(file.config[`${file.project}:services`]);
}
