/**
 * The builder's boot script: builds each git-built service that the bucket does not hold yet,
 * stores its artifact and manifest, and powers off. Everything it builds is named by its inputs
 * (config/check-builds.ts), so a builder that boots again finds its work done and builds nothing.
 */
import { buildObjects } from "../config/check-builds";
import type { ServiceBuild } from "../config/stack-config";
import { builderBasics, builderFunctions, googleApiFunctions } from "./boot-library";
import { shellWord } from "./shell";

/** The Linux user builds run as: a repository's build runs its own code (Maven plugins, npm), never as root. */
export const builderUser = "geo-builder";

export interface BuilderScriptInput {
  bucket: string;
  builds: ServiceBuild[];
  /** The builds end by this many seconds after boot, failed if not done. */
  budgetSec: number;
}

export function renderBuilderScript(input: BuilderScriptInput): string {
  const bucket = shellWord(input.bucket);
  const builds = input.builds.map((b) => {
    const args = [b.key, b.repository, b.ref, b.directory, b.packages.join(" "), b.command, ...b.artifacts].map(shellWord).join(" ");
    return [
      `if stored ${bucket} ${shellWord(buildObjects(b.key).manifest)}; then`,
      `  log "${b.key} (${b.services.join(", ")}) is stored; nothing to build"`,
      "else",
      `  build_or_report ${bucket} ${args}`,
      "fi",
    ].join("\n");
  });
  return [
    "#!/usr/bin/env bash",
    "# geo-api-layer boot script: builder; rendered by startup/builder-script.ts.",
    "set -Eeuo pipefail",
    "umask 022",
    "readonly ROLE=builder",
    `readonly BOOT_BUDGET_SEC=${input.budgetSec}`,
    builderBasics,
    googleApiFunctions,
    builderFunctions(builderUser),
    "# Done or failed, the builder powers off: it costs nothing until the next build.",
    "trap 'systemctl poweroff' EXIT",
    'mkdir -p "$STATE_DIR"',
    `id -u ${builderUser} >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/${builderUser} --shell /usr/sbin/nologin ${builderUser}`,
    "retry 5 apt_get update",
    "retry 5 apt_get install ca-certificates curl git jq",
    "failed=0",
    ...builds,
    'log "builds done in $((SECONDS - started_at)) s, $failed failed; powering off"',
    "",
  ].join("\n");
}
