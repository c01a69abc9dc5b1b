/** Runs the real program over a stack file under the mock runtime, for component tests. */
import { join } from "path";
import { RecordedResource, Recording, recordProgram } from "../../plan/record";
import { readStackFile } from "../../plan/stack-file";

export const projectDir = join(__dirname, "..", "..");

/**
 * Records the program over `Pulumi.<stack>.yaml`, with `overrides` (keys without the namespace,
 * values as they would be in the stack file) applied on top; `null` removes a key.
 */
export async function recordStack(stack: string, overrides: Record<string, unknown> = {}): Promise<Recording> {
  const file = readStackFile(projectDir, stack);
  const config = { ...file.config };
  for (const [key, value] of Object.entries(overrides)) {
    const fullKey = key.includes(":") ? key : `${file.project}:${key}`;
    if (value === null) delete config[fullKey];
    else config[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return recordProgram({
    project: file.project,
    stack,
    config,
    program: () => jest.isolateModules(() => require(join(projectDir, "index"))),
  });
}

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
