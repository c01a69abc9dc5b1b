/**
 * The boot script of a VM, rendered from typed inputs. It reruns on every boot, so every step is
 * idempotent: packages install once (behind a marker naming what was installed), files are
 * rewritten only when their content changes, Kong's entities are upserted by name.
 */
import { createHash } from "crypto";
import { kongClusterCertPath, kongClusterKeyPath, kongDatabaseCaPath, kongPasswordVariable } from "./kong-conf";
import { secretResourceName } from "../config/naming";
import type { ServiceConfig } from "../config/schema";
import { kongHealthPath } from "./kong-entities";
import { fallbackConfigPath, fallbackDropIn, kongLmdbPath, renderDatabaseReturnScript, renderDatabaseReturnUnit, databaseReturnScriptPath, databaseReturnUnit } from "./kong-fallback";
import {
  artifactFunctions,
  commonFunctions,
  clusterKeyFunctions,
  googleApiFunctions,
  dataPlaneFunctions,
  fallbackFunctions,
  kongCliFunctions,
  kongEntityFunctions,
  localDatabaseFunctions,
  migrationFunctions,
  secretFunctions,
  waitForMigrationsFunctions,
} from "./boot-library";
import {
  kongConfPath,
  kongEnvPath,
  renderKongUnit,
  renderServiceEnv,
  renderServiceUnit,
  serviceEnvPath,
} from "./systemd";
import { serviceUnitName, variablesOfEveryService } from "../config/vm-contract";
import type { KongMode, KongOnVm, StartupScriptInput } from "./boot-input";
import { installSteps } from "./install-steps";
import { shellWord } from "./shell";

/** Path of Kong's declarative config on DB-less VMs. */
export const declarativeConfigPath = "/etc/kong/kong.yaml";

/**
 * Seconds a first boot may take, from the work it does; also the autohealing grace period. A
 * git-built service costs its runtime's packages (a JRE), the builder's artifact and its start:
 * a download, never a build (README, "Build once").
 */
export function firstBootBudgetSec(services: ServiceConfig[]): number {
  const kongInstallAndStart = 300;
  const artifactInstallAndStart = services.some((s) => s.run.kind === "git") ? 240 : 0;
  const imagePull = services.some((s) => s.run.kind === "container") ? 180 : 0;
  return kongInstallAndStart + artifactInstallAndStart + imagePull;
}

const heredocEnd = "GEO_API_LAYER_EOF";

/** `command <<'EOF'` with `content` as its standard input; bash expands nothing inside. */
function withHeredoc(command: string, content: string): string {
  if (content.split("\n").includes(heredocEnd)) throw new Error(`file content may not contain a line ${heredocEnd}`);
  return `${command} <<'${heredocEnd}'\n${content}${content.endsWith("\n") || content === "" ? "" : "\n"}${heredocEnd}`;
}

/**
 * The files a rendered script writes from heredocs, by path (units under /etc/systemd/system):
 * the inverse of withHeredoc, for reviewing what a VM gets. A service's env file holds its
 * non-secret part here; the secrets are appended at boot.
 */
export function filesWrittenBy(script: string): Record<string, string> {
  const files: Record<string, string> = {};
  const pattern = new RegExp(`^write_(file|unit) (\\S+).*<<'${heredocEnd}'\\n([\\s\\S]*?)^${heredocEnd}$`, "gm");
  for (const [, kind, target, content] of script.matchAll(pattern)) {
    files[kind === "unit" ? `/etc/systemd/system/${target}` : target] = content;
  }
  const envFiles = new RegExp(`^env_file=\\$\\(cat <<'${heredocEnd}'\\n([\\s\\S]*?)^${heredocEnd}\\n(?:secret_env_line .*\\n)*\\)\\nwrite_file (\\S+) 0600`, "gm");
  for (const [, content, target] of script.matchAll(envFiles)) files[target] = content;
  return files;
}

/** The role a rendered script names in its `readonly ROLE=` line: the inverse of renderStartupScript. */
export function roleOf(script: string): string {
  return /^readonly ROLE=(\S+)$/m.exec(script)?.[1] ?? "";
}

/** The service with `{{kong}}` resolved and where it runs added to its environment. */
function serviceOnVm(service: ServiceConfig, input: StartupScriptInput): ServiceConfig {
  const env = Object.fromEntries(Object.entries(service.env).map(([k, v]) => [k, v.split("{{kong}}").join(input.kongUrl)]));
  const where: Record<(typeof variablesOfEveryService)[number], string> = { PROJECT_ID: input.project, REGION: input.region };
  return { ...service, env: { ...where, ...env } };
}

/** A secret's newest version: a rotated secret reaches a VM at its next boot. */
function latestVersion(secretResource: string): string {
  return `${secretResource}/versions/latest`;
}

function configSteps(input: StartupScriptInput): string {
  const kong = input.kong;
  const kongFiles = kong
    ? [
        withHeredoc(`write_file ${kongConfPath} 0644`, kong.conf),
        ...("passwordSecret" in kong.mode
          ? [
              `kong_env=$(secret_env_line ${kongPasswordVariable} ${shellWord(latestVersion(kong.mode.passwordSecret))})`,
              `write_file ${kongEnvPath} 0600 <<<"$kong_env"`,
              withHeredoc(`write_file ${kongDatabaseCaPath} 0644`, kong.mode.databaseCa),
            ]
          : []),
        ...(kong.cluster
          ? [
              withHeredoc(`write_file ${kongClusterCertPath} 0644`, kong.cluster.certificate),
              `write_cluster_key ${kongClusterKeyPath} ${shellWord(latestVersion(kong.cluster.keySecret))}`,
            ]
          : []),
        ...(kong.mode.kind === "dbless" ? [withHeredoc(`write_file ${declarativeConfigPath} 0644`, kong.mode.declarativeConfig)] : []),
        ...(kong.mode.kind === "data-plane" ? [withHeredoc(`write_file ${fallbackConfigPath} 0644`, kong.mode.fallbackConfig)] : []),
        ...(kong.mode.kind === "shared-db" && kong.mode.fallbackConfig
          ? [
              withHeredoc(`write_file ${fallbackConfigPath} 0644`, kong.mode.fallbackConfig),
              withHeredoc(`write_file ${databaseReturnScriptPath} 0755`, renderDatabaseReturnScript({ healthUrl: kongHealthUrl(kong) })),
              withHeredoc(`write_unit ${databaseReturnUnit}`, renderDatabaseReturnUnit()),
            ]
          : []),
        ..."adminRequests" in kong.mode ? [withHeredoc("write_file /etc/kong/admin-requests.tsv 0644", kong.mode.adminRequests)] : [],
        withHeredoc("write_unit kong.service", renderKongUnit({ passwordFile: hasKongEnv(kong), localDatabase: kong.mode.kind === "local-db" })),
      ]
    : [];
  const serviceFiles = input.services.flatMap((configured) => {
    const service = serviceOnVm(configured, input);
    const secrets = Object.keys(service.secretEnv)
      .sort()
      .map((name) => `secret_env_line ${name} ${shellWord(latestVersion(secretResourceName(input.project, service.secretEnv[name])))}`);
    return [
      withHeredoc(`write_unit ${serviceUnitName(service.name)}`, renderServiceUnit(service)),
      withHeredoc("env_file=$(cat", renderServiceEnv(service)),
      ...secrets,
      ")",
      `write_file ${serviceEnvPath(service.name)} 0600 <<<"$env_file"`,
    ];
  });
  const locals = [...(kong && "passwordSecret" in kong.mode ? ["kong_env"] : []), ...(input.services.length ? ["env_file"] : [])];
  // Secrets land in variables, never on a command line; a failed read fails the boot.
  return [
    "write_config() {",
    ...(locals.length ? [`local ${locals.join(" ")}`] : []),
    ...kongFiles,
    ...serviceFiles,
    "if ((units_changed)); then systemctl daemon-reload; fi",
    "}",
    "",
  ].join("\n");
}

/** Kong reads the root-only env file: every mode but those without a database password. */
function hasKongEnv(kong: KongOnVm): boolean {
  return kong.mode.kind !== "dbless" && kong.mode.kind !== "data-plane";
}

function functionsFor(input: StartupScriptInput): string[] {
  const mode = input.kong?.mode.kind;
  const onSharedDatabase = mode === "shared-db" || mode === "control-plane";
  const needsSecrets = onSharedDatabase || mode === "migrator" || input.kong?.cluster !== undefined || input.services.some((s) => Object.keys(s.secretEnv).length);
  const needsArtifacts = input.services.some((s) => s.run.kind === "git");
  return [
    commonFunctions,
    ...(needsSecrets || needsArtifacts ? [googleApiFunctions] : []),
    ...(needsSecrets ? [secretFunctions] : []),
    ...(needsArtifacts ? [artifactFunctions] : []),
    ...(input.kong?.cluster ? [clusterKeyFunctions] : []),
    ...(onSharedDatabase || mode === "migrator" || mode === "local-db" ? [kongCliFunctions] : []),
    ...(mode === "migrator" || mode === "local-db" ? [migrationFunctions, kongEntityFunctions(input.kong!.adminPort)] : []),
    ...(onSharedDatabase ? [waitForMigrationsFunctions] : []),
    ...(hasFallback(input) ? [fallbackFunctions(fallbackDropIn, fallbackConfigPath)] : []),
    ...(mode === "data-plane" ? [dataPlaneFunctions(fallbackDropIn, fallbackConfigPath, kongLmdbPath)] : []),
    ...(mode === "local-db" ? [localDatabaseFunctions] : []),
  ];
}

/** Kong's health route on this VM: what the load balancers and autohealing probe. */
function kongHealthUrl(kong: KongOnVm): string {
  return `http://127.0.0.1:${kong.proxyPort}${kongHealthPath}`;
}

function hasFallback(input: StartupScriptInput): boolean {
  return input.kong?.mode.kind === "shared-db" && input.kong.mode.fallbackConfig !== undefined;
}

function mainSteps(input: StartupScriptInput): string {
  const serviceUnits = input.services.map((s) => serviceUnitName(s.name));
  const kong = input.kong;
  // The Admin API and the database are ready: what the migrator and the sidecar need to write entities.
  const kongReady = kong ? `wait_http kong "http://127.0.0.1:${kong.statusPort}/status/ready"` : "";
  // The node's routes are loaded: what the load balancer will see.
  const kongServing = kong ? `wait_http "Kong's routes" "${kongHealthUrl(kong)}"` : "";
  const services = [
    ...(serviceUnits.length ? [`systemctl enable ${serviceUnits.join(" ")}`, `systemctl "$action" ${serviceUnits.join(" ")}`] : []),
    ...input.services.map((s) => `wait_http ${s.name} "http://127.0.0.1:${s.port}${s.healthPath}"`),
  ];
  // Kong last, and only from here (its unit is not enabled): on every boot, the load balancer sees
  // this VM only once the services behind it answer.
  const startKong = kong ? ['systemctl "$action" kong.service', kongServing] : [];
  const steps: Record<KongMode["kind"] | "none", string[]> = {
    migrator: [
      "run_migrations finish-later",
      "systemctl start kong.service",
      kongReady,
      "apply_kong_entities",
      "systemctl stop kong.service",
      'log "migrations and Kong entities applied in $((SECONDS - started_at)) s; powering off"',
      "systemctl poweroff",
    ],
    "shared-db": hasFallback(input)
      ? ["choose_kong_database", ...services, ...startKong, 'if ((on_fallback)); then systemctl start ' + databaseReturnUnit + "; fi"]
      : ["wait_for_migrations", ...services, ...startKong],
    // The load balancer sees Kong only once the entities are written and routed.
    "local-db": ["prepare_local_database", "run_migrations finish-now", ...services, 'systemctl "$action" kong.service', kongReady, "apply_kong_entities", kongServing],
    dbless: [...services, ...startKong],
    // Ready once its database answers (kong/status/ready.lua): it proxies nothing.
    "control-plane": ["wait_for_migrations", 'systemctl "$action" kong.service', kongReady],
    "data-plane": [...services, "choose_data_plane_config", ...startKong],
    none: services,
  };
  const mode = kong?.mode.kind ?? "none";
  return [
    'if [[ -f "$INSTALL_MARKER" ]]; then',
    '  log "packages already installed; skipping to configuration"',
    "else",
    "  install_packages",
    "fi",
    "write_config",
    'if ((config_changed)); then log "configuration differs from the last boot"; fi',
    ...(mode === "migrator" ? [] : ['# A changed file (a rotated secret) needs a restart; otherwise start is a no-op when running.', "if ((config_changed)); then action=restart; else action=start; fi"]),
    ...steps[mode],
    ...(mode === "migrator" ? [] : ['log "ready in $((SECONDS - started_at)) s"']),
    "",
  ].join("\n");
}

export function renderStartupScript(input: StartupScriptInput): string {
  const install = installSteps(input);
  // A change to what gets installed changes the marker, so the next boot installs again.
  const fingerprint = createHash("sha256").update(install).digest("hex").slice(0, 16);
  return [
    "#!/usr/bin/env bash",
    `# geo-api-layer boot script: ${input.role} in ${input.region}; rendered by startup/startup-script.ts.`,
    "# Runs on every boot: each step is idempotent.",
    "set -Eeuo pipefail",
    "umask 022",
    `readonly ROLE=${input.role}`,
    `readonly BOOT_BUDGET_SEC=${input.bootBudgetSec}`,
    ...functionsFor(input),
    `readonly INSTALL_MARKER="$STATE_DIR/installed-${fingerprint}"`,
    'mkdir -p "$STATE_DIR"',
    "",
    install,
    configSteps(input),
    mainSteps(input),
  ].join("\n");
}
