/**
 * The builds in a recorded plan: the builds bucket, who writes it, and each artifact with the
 * accounts that may read it (the grants' conditions), as `npm run plan` prints them.
 */
import { buildsBucketPrefix } from "../config/check-builds";
import { inputsOfType } from "./fleet";
import type { RecordedResource } from "./record";

const account = (member: string) => member.replace(/^serviceAccount:/, "").replace(/@.*$/, "");

export function renderBuilds(resources: RecordedResource[]): string {
  const bucket = inputsOfType(resources, "storage/bucket:Bucket").find((b) => b.name.startsWith(buildsBucketPrefix));
  if (!bucket) return "";
  const grants = inputsOfType(resources, "storage/bucketIAMMember:BucketIAMMember").filter((g) => g.bucket === bucket.name);
  const writers = grants.filter((g) => !g.condition).map((g) => `${account(g.member)} (${g.role.replace("roles/storage.", "")})`);
  const readers = new Map<string, string[]>();
  for (const grant of grants.filter((g) => g.condition)) {
    for (const [, object] of String(grant.condition.expression).matchAll(/\/objects\/([^"]+)"/g)) readers.set(object, [...(readers.get(object) ?? []), account(grant.member)]);
  }
  const rows = [...readers].sort().map(([object, accounts]) => `  ${object}\n    read by ${accounts.sort().join(", ")}`);
  return `Builds: gs://${bucket.name} (${bucket.location}), written by ${writers.sort().join(", ")}\n${rows.join("\n")}\n`;
}
