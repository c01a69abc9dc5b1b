/**
 * What the stack's builder builds: each git-built service's build once per set of inputs, under a
 * name derived from them, in the stack's builds bucket. Pure.
 */
import { createHash } from "crypto";
import { bucketLocation, maxBucketName } from "./check-pictures";
import type { Report } from "./field-path";
import type { ParsedStackConfig, ServiceConfig } from "./schema";
import type { BuildsPlan, RegionPlan, ServiceBuild } from "./stack-config";

type GitRun = Extract<ServiceConfig["run"], { kind: "git" }>;

/**
 * Bumped when the builder packs artifacts differently: every name changes, so no VM unpacks an
 * artifact of the old layout with the new script.
 */
const artifactFormat = 1;

/** The build's packages, each once, in one order: their order changes nothing built. */
const buildPackages = (run: GitRun) => [...new Set(run.build.packages)].sort();

/** The build's inputs: a change to any of them is another artifact. */
function buildInputs(run: GitRun, image: string) {
  return {
    format: artifactFormat,
    image,
    repository: run.repository,
    ref: run.ref,
    directory: run.directory,
    command: run.build.command,
    packages: buildPackages(run),
    artifacts: run.build.artifacts,
  };
}

/**
 * `geo-distributed-messenger-7926c7cfe43a-3f2a…`: the repository and ref for people, a hash of
 * every input for uniqueness. Object names under `builds/` start with it.
 */
export function buildKey(run: GitRun, image: string): string {
  const hash = createHash("sha256").update(JSON.stringify(buildInputs(run, image))).digest("hex").slice(0, 24);
  const repository = run.repository.replace(/\.git$/, "").split("/").pop()!.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 40);
  const ref = run.ref.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 12);
  return `${repository}-${ref}-${hash}`;
}

/**
 * The objects of a build in the bucket. The builder's functions (startup/boot-library.ts) and the
 * wait of `pulumi up` (components/service-builds.ts) spell the same names in bash from the key,
 * with a failed build's last lines as `builds/<key>.failed/<builder's instance id>.log`.
 */
export function buildObjects(key: string) {
  return {
    /** The artifacts as a gzip'd tar, paths relative to `run.directory`. */
    artifact: `builds/${key}.tar.gz`,
    /** Written after the artifact: its generation and SHA-256. */
    manifest: `builds/${key}.json`,
  };
}

/** The builds bucket's name starts with it (never with the prefix Attachments takes for pictures). */
export const buildsBucketPrefix = "builds-";

export function resolveBuilds(parsed: ParsedStackConfig, regions: RegionPlan[], project: string, err: Report): BuildsPlan | undefined {
  const builds = new Map<string, ServiceBuild>();
  for (const service of parsed.services) {
    if (service.run.kind !== "git") continue;
    const key = buildKey(service.run, parsed.image);
    const { repository, ref, directory, build } = service.run;
    const existing = builds.get(key);
    if (existing) existing.services.push(service.name);
    else builds.set(key, { key, repository, ref, directory, command: build.command, packages: buildPackages(service.run), artifacts: build.artifacts, services: [service.name] });
  }
  if (builds.size === 0) return undefined;
  const location = bucketLocation(parsed.builds.location, regions, ["builds", "location"], err);
  const bucketName = `${buildsBucketPrefix}${parsed.prefix}-${project}`;
  if (bucketName.length > maxBucketName) err(["prefix"], `makes the builds bucket's name "${bucketName}" (${bucketName.length} characters); Cloud Storage allows ${maxBucketName}`);
  return location && { bucketName, location, machineType: parsed.builds.machineType, timeoutSec: parsed.builds.timeoutSec, builds: [...builds.values()] };
}
