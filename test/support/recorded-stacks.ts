/**
 * Recordings of the example stacks, with overrides, kept for the life of a Jest worker. Loaded
 * with Node's own `require` (test/support/stack.ts), not Jest's per-file module registry, so
 * @pulumi/pulumi and @pulumi/gcp load once per worker instead of once per test file, and a stack
 * recorded for one test file serves every other. Recordings are deterministic (plan/mock-cloud.ts).
 */
import type { Recording } from "../../plan/record";
import { readStackFile } from "../../plan/stack-file";
import { projectDir, recordStackFile } from "../../plan/stack-recording";

/**
 * Pulumi captures a stack trace for every resource and promise, for debugging output the tests never
 * read; Jest raises the limit to 100 frames, which makes a recording five times slower. The
 * program's errors keep their messages, which is what the tests check.
 */
async function withoutStackTraces<T>(run: () => Promise<T>): Promise<T> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return await run();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const recordings = new Map<string, Promise<Recording>>();

/**
 * Records the program over `Pulumi.<stack>.yaml`, with `overrides` (keys without the namespace,
 * values as they would be in the stack file) applied on top; `null` removes a key.
 */
export function recordStack(stack: string, overrides: Record<string, unknown>): Promise<Recording> {
  const key = JSON.stringify([stack, overrides]);
  if (!recordings.has(key)) {
    const file = readStackFile(projectDir, stack);
    for (const [name, value] of Object.entries(overrides)) {
      const fullKey = name.includes(":") ? name : `${file.project}:${name}`;
      if (value === null) delete file.config[fullKey];
      else file.config[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
    }
    // One recording at a time: the mock runtime is process-wide.
    const previous = [...recordings.values()].pop() ?? Promise.resolve();
    const record = () => withoutStackTraces(() => recordStackFile(file, stack));
    recordings.set(key, previous.then(record, record));
  }
  return recordings.get(key)!;
}
