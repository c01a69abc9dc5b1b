/**
 * Recordings of the example stacks, with overrides, kept for the life of a Jest worker. Loaded
 * with Node's own `require` (test/support/stack.ts), not Jest's per-file module registry, so
 * @pulumi/pulumi and @pulumi/gcp load once per worker instead of once per test file, and a stack
 * recorded for one test file serves every other. Recordings are deterministic (plan/mock-cloud.ts).
 */
import type { Recording } from "../../plan/record";
import { projectDir, readStackFile } from "../../plan/stack-file";
import { recordStackFile } from "../../plan/stack-recording";
import { storedBuildsVariable } from "../../plan/mock-cloud";
import { runPlan } from "../../plan/cli";

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

/** The mock runtime is process-wide: one recording or plan at a time. */
let queue: Promise<unknown> = Promise.resolve();
function serially<T>(run: () => Promise<T>): Promise<T> {
  const next = queue.then(run, run);
  queue = next.catch(() => undefined);
  return next;
}

/**
 * Points the mock at the manifests the VM harness's builder stored (plan/mock-cloud.ts): this
 * module's `process` is Node's own, which the mock reads, not a test file's copy of it.
 */
export function useStoredBuilds(dir: string): void {
  process.env[storedBuildsVariable] = dir;
}

/** `npm run plan` with `args`, in this process (plan/cli.ts), its output captured. */
export function runPlanCommand(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return serially(async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const status = await withoutStackTraces(() => runPlan(args, { stdout: (t) => stdout.push(t), stderr: (t) => stderr.push(t) }));
    return { status, stdout: stdout.join(""), stderr: stderr.join("") };
  });
}

/**
 * Records the program over `Pulumi.<stack>.yaml`, with `overrides` (keys without the namespace,
 * values as they would be in the stack file) applied on top; `null` removes a key.
 */
export function recordStack(stack: string, overrides: Record<string, unknown>): Promise<Recording> {
  // The VM harness points the mock at what its builder stored (mock-cloud.ts): another recording.
  const key = JSON.stringify([stack, overrides, process.env[storedBuildsVariable]]);
  if (!recordings.has(key)) {
    const file = readStackFile(projectDir, stack);
    for (const [name, value] of Object.entries(overrides)) {
      const fullKey = name.includes(":") ? name : `${file.project}:${name}`;
      if (value === null) delete file.config[fullKey];
      else file.config[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
    }
    recordings.set(key, serially(() => withoutStackTraces(() => recordStackFile(file, stack))));
  }
  return recordings.get(key)!;
}
