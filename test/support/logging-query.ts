/**
 * Cloud Logging as far as the boot-failure metric meets it: the entries the guest agent writes for
 * a startup script's output, and the part of the Logging query language the metric's filter and
 * label extractors use (comparisons `=`, `=~` and `:` joined by AND or new lines; REGEXP_EXTRACT
 * and EXTRACT). Regular expressions run as JavaScript's: the filter keeps to what RE2 reads alike.
 */
import { bootFailureFilter, scriptRunnerLog } from "../../components/alerting-rules";

export interface LogEntry {
  resource: { type: string };
  logName: string;
  jsonPayload: { message: string; localTimestamp: string };
  labels: Record<string, string>;
}

/**
 * The guest agent's script runner logs each line a startup script prints with the script's name
 * before it: GoogleCloudPlatform/guest-agent 20260724.00, google_metadata_script_runner/main.go
 * (runCmd). The VM harness's stand-in runner does the same (test/vm/guest/google_metadata_script_runner).
 */
export function scriptRunnerMessages(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => `startup-script: ${line}`);
}

/**
 * The entries of the script runner's messages in Cloud Logging: its own log, the message in
 * `jsonPayload.message`, the VM's name and group as labels. guest-agent 20260724.00 main.go (the
 * logger named after the program, the group from `created-by`), guest-logging-go@d04f635
 * logger/logger.go (parseMIGLabels, CommonLabels) and logger/logevent.go (the payload's fields).
 */
export function scriptRunnerEntries(messages: string[], project: string, vm: { name: string; group?: string }): LogEntry[] {
  return messages
    .filter((message) => message !== "")
    .map((message) => ({
      resource: { type: "gce_instance" },
      logName: `projects/${project}/logs/${scriptRunnerLog}`,
      jsonPayload: { message, localTimestamp: "2026-12-02T00:00:00Z" },
      labels: { instance_name: vm.name, ...(vm.group ? { "compute.googleapis.com/instance_group_manager/name": vm.group } : {}) },
    }));
}

/** The entries of `messages` that the boot-failure metric counts. */
export function countedFailures(messages: string[], project: string, vm: { name: string; group?: string }): LogEntry[] {
  return scriptRunnerEntries(messages, project, vm).filter((entry) => matches(bootFailureFilter(project), entry));
}

/** A field path as the query language writes it: `jsonPayload.message`, `labels."a/b"`. */
function valueAt(entry: LogEntry, path: string): string | undefined {
  const keys = [...path.matchAll(/"([^"]+)"|([^."]+)/g)].map((m) => m[1] ?? m[2]);
  let value: unknown = entry;
  for (const key of keys) value = value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === "string" ? value : undefined;
}

const unquote = (literal: string) => JSON.parse(literal) as string;
const comparison = /^([A-Za-z_.]+(?:\."[^"]+")?)\s*(=~|=|:)\s*("(?:[^"\\]|\\.)*")$/;

/** Whether `entry` matches `filter`; a comparison outside the subset throws, so a filter cannot pass by being misread. */
export function matches(filter: string, entry: LogEntry): boolean {
  return filter
    .split(/\n| AND /)
    .map((part) => part.trim())
    .filter(Boolean)
    .every((part) => {
      const parsed = comparison.exec(part);
      if (!parsed) throw new Error(`not in the subset this stand-in reads: ${part}`);
      const [, path, op, literal] = parsed;
      const value = valueAt(entry, path);
      const wanted = unquote(literal);
      if (value === undefined) return false;
      return op === "=" ? value === wanted : op === ":" ? value.includes(wanted) : new RegExp(wanted).test(value);
    });
}

/** A log-based metric's label extractor applied to an entry: REGEXP_EXTRACT's first group, or EXTRACT's value. */
export function extract(extractor: string, entry: LogEntry): string | undefined {
  const regexp = /^REGEXP_EXTRACT\(([^,]+),\s*("(?:[^"\\]|\\.)*")\)$/.exec(extractor);
  if (regexp) return new RegExp(unquote(regexp[2])).exec(valueAt(entry, regexp[1]) ?? "")?.[1];
  const plain = /^EXTRACT\((.+)\)$/.exec(extractor);
  if (plain) return valueAt(entry, plain[1]);
  throw new Error(`not an extractor: ${extractor}`);
}
