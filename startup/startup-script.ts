/**
 * The boot script of a VM, rendered from typed inputs. It reruns on every boot, so every step is
 * idempotent: packages install once (behind a marker naming what was installed), files are
 * rewritten only when their content changes, Kong's entities are upserted by name.
 */
import { createHash } from "crypto";
import type { ServiceConfig } from "../config/schema";
import {
  kongConfPath,
  kongEnvPath,
  renderKongUnit,
  renderServiceEnv,
  renderServiceUnit,
  serviceEnvPath,
  serviceHome,
  serviceUnitName,
  serviceUser,
} from "./systemd";

/**
 * `node` serves traffic; `migrator` is the one place that runs Kong's migrations and writes
 * Kong's entities into the shared database, then powers off.
 */
export type VmRole = "node" | "migrator";

export interface StartupScriptInput {
  role: VmRole;
  region: string;
  /** Debian codename of the image, for Kong's apt repository. */
  debianCodename: string;
  kongVersion: string;
  kongConf: string;
  statusPort: number;
  adminPort: number;
  /** Secret Manager resource of Kong's database password (`projects/…/secrets/…`). */
  kongPasswordSecret: string;
  /** Admin API upserts the migrator applies (see kong-entities.ts). */
  kongAdminRequests?: string;
  services: ServiceConfig[];
  /** GCP project holding the services' secrets. */
  project: string;
  /** Every wait of this boot ends by this many seconds after the script started. */
  bootBudgetSec: number;
}

/** Seconds a first boot may take, from the work it does; also the autohealing grace period. */
export function firstBootBudgetSec(services: ServiceConfig[]): number {
  const kongInstallAndStart = 300;
  const sourceBuild = services.some((s) => s.run.kind === "git") ? 900 : 0;
  const imagePull = services.some((s) => s.run.kind === "container") ? 180 : 0;
  return kongInstallAndStart + sourceBuild + imagePull;
}

/** Single-quotes a word for bash. */
export function shellWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

const heredocEnd = "GEO_API_LAYER_EOF";

/** `command <<'EOF'` with `content` as its standard input; bash expands nothing inside. */
function withHeredoc(command: string, content: string): string {
  if (content.split("\n").includes(heredocEnd)) throw new Error(`file content may not contain a line ${heredocEnd}`);
  return `${command} <<'${heredocEnd}'\n${content}${content.endsWith("\n") || content === "" ? "" : "\n"}${heredocEnd}`;
}

/**
 * The files a rendered script writes from heredocs, by path (units under /etc/systemd/system):
 * the inverse of withHeredoc, for reviewing what a VM gets.
 */
export function filesWrittenBy(script: string): Record<string, string> {
  const files: Record<string, string> = {};
  const pattern = new RegExp(`^write_(file|unit) (\\S+).*<<'${heredocEnd}'\\n([\\s\\S]*?)^${heredocEnd}$`, "gm");
  for (const [, kind, target, content] of script.matchAll(pattern)) {
    files[kind === "unit" ? `/etc/systemd/system/${target}` : target] = content;
  }
  return files;
}

function aptPackages(input: StartupScriptInput): string[] {
  const packages = new Set(["ca-certificates", "curl", "gnupg", "jq"]);
  for (const service of input.services) {
    if (service.run.kind === "container") packages.add("docker.io");
    else ["git", ...service.run.packages].forEach((p) => packages.add(p));
  }
  return [...packages].sort();
}

function secretResource(project: string, secretId: string): string {
  return `projects/${project}/secrets/${secretId}/versions/latest`;
}

const library = `
readonly ROOT="\${GEO_API_LAYER_ROOT:-}" # a sandbox root in tests; empty on a VM
readonly STATE_DIR="$ROOT/var/lib/geo-api-layer"
readonly METADATA=http://metadata.google.internal/computeMetadata/v1
readonly started_at=$SECONDS
units_changed=0
config_changed=0
file_changed=0

log() { echo "geo-api-layer[$ROLE]: $*"; }

# Any failure stops Kong, so health checks fail and autohealing replaces this VM.
fail() {
  log "FAILED: $*"
  systemctl stop kong.service >/dev/null 2>&1 || true
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND exited with status $?"' ERR

seconds_left() { echo $((BOOT_BUDGET_SEC - (SECONDS - started_at))); }

# retry ATTEMPTS COMMAND...: transient apt and network failures get a few tries with backoff.
retry() {
  local attempts=$1 n=1
  shift
  until "$@"; do
    if ((n >= attempts)); then return 1; fi
    log "retrying ($n/$attempts): $*"
    sleep $((n * 5))
    n=$((n + 1))
  done
}

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q -y "$@"; }

# write_file PATH MODE < content: replaces PATH only when the content differs; sets file_changed.
write_file() {
  local path="$ROOT$1" mode=$2 tmp
  file_changed=0
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 0
  fi
  mv -f "$tmp" "$path"
  file_changed=1
  config_changed=1
  log "wrote $1"
}

write_unit() {
  write_file "/etc/systemd/system/$1" 0644
  if ((file_changed)); then units_changed=1; fi
}

metadata() { curl -fsS --retry 5 -H "Metadata-Flavor: Google" "$METADATA/$1"; }

# secret_env_line NAME RESOURCE: NAME="value" for systemd's EnvironmentFile, quoted like envLine in
# systemd.ts; the value, read from Secret Manager with this VM's account, never becomes a shell word.
secret_env_line() {
  local token
  token=$(metadata "instance/service-accounts/default/token" | jq -r .access_token)
  curl -fsS --retry 5 -H "Authorization: Bearer $token" "https://secretmanager.googleapis.com/v1/$2:access" |
    jq -r --arg name "$1" '(.payload.data | @base64d) as $value
      | if ($value | test("[\\u0000-\\u001f]")) then error("secret of \\($name) has control characters")
        else $name + "=" + ($value | tojson) end'
}

kong_cli() {
  # shellcheck source=/dev/null # written at boot
  (set -a && . "$ROOT${kongEnvPath}" && set +a && kong "$@")
}

# wait_http NAME URL: until URL answers 2xx, within the boot budget.
wait_http() {
  log "waiting for $1 at $2"
  until curl -fsS -o /dev/null --max-time 5 "$2"; do
    if (($(seconds_left) <= 0)); then fail "$1 not ready at $2 within $BOOT_BUDGET_SEC s of boot"; fi
    sleep 5
  done
  log "$1 is ready"
}
`;

function installSteps(input: StartupScriptInput): string {
  const keyring = "/usr/share/keyrings/kong-gateway-39.gpg";
  const repo = "https://packages.konghq.com/public/gateway-39";
  const serviceInstalls = input.services.map((service) => {
    const run = service.run;
    if (run.kind === "container") return `retry 5 docker pull ${shellWord(run.image)}`;
    const home = serviceHome(service.name);
    const user = serviceUser(service.name);
    return [
      `id -u ${user} >/dev/null 2>&1 || useradd --system --home-dir ${home} --shell /usr/sbin/nologin ${user}`,
      `rm -rf "$ROOT${home}/src" && mkdir -p "$ROOT${home}"`,
      `retry 5 git clone --quiet ${shellWord(run.repository)} "$ROOT${home}/src"`,
      `git -C "$ROOT${home}/src" checkout --quiet --detach ${shellWord(run.ref)}`,
      `chown -R ${user}: "$ROOT${home}"`,
      `log "building ${service.name} at ${run.ref}"`,
      `(cd "$ROOT${home}/src/${run.directory}" && runuser -u ${user} -- bash -c ${shellWord(run.build)})`,
    ].join("\n  ");
  });
  return `install_packages() {
  log "installing packages (first boot)"
  retry 5 apt_get update
  retry 5 apt_get install ${aptPackages(input).join(" ")}
  # Kong's signed per-version repository; the key must be the one Kong publishes.
  retry 5 curl -fsSL -o "$ROOT/tmp/kong.key" ${repo}/gpg.B9DCD032B1696A89.key
  gpg --show-keys --with-colons "$ROOT/tmp/kong.key" | grep -q '^fpr:.*B9DCD032B1696A89:' || fail "Kong's repository key has an unexpected fingerprint"
  gpg --batch --yes --dearmor -o "$ROOT${keyring}" "$ROOT/tmp/kong.key"
  write_file /etc/apt/sources.list.d/kong-gateway-39.list 0644 <<<"deb [signed-by=${keyring}] ${repo}/deb/debian ${input.debianCodename} main"
  retry 5 apt_get update
  retry 5 apt_get install kong=${input.kongVersion}
  apt-mark hold kong
  ${serviceInstalls.join("\n  ")}
  touch "$INSTALL_MARKER"
}
`;
}

function configSteps(input: StartupScriptInput): string {
  const serviceFiles = input.services.flatMap((service) => {
    // Every service learns where it runs, as the messenger's services expect.
    const withPlatformEnv = { ...service, env: { PROJECT_ID: input.project, REGION: input.region, ...service.env } };
    const secrets = Object.keys(service.secretEnv)
      .sort()
      .map((name) => `secret_env_line ${name} ${shellWord(secretResource(input.project, service.secretEnv[name]))}`);
    return [
      withHeredoc(`write_unit ${serviceUnitName(service.name)}`, renderServiceUnit(withPlatformEnv)),
      withHeredoc("env_file=$(cat", renderServiceEnv(withPlatformEnv)),
      ...secrets,
      ")",
      `write_file ${serviceEnvPath(service.name)} 0600 <<<"$env_file"`,
    ];
  });
  // Secrets land in variables, never on a command line; a failed read fails the boot.
  return [
    "write_config() {",
    `local kong_env${input.services.length ? " env_file" : ""}`,
    withHeredoc(`write_file ${kongConfPath} 0644`, input.kongConf),
    `kong_env=$(secret_env_line KONG_PG_PASSWORD ${shellWord(`${input.kongPasswordSecret}/versions/latest`)})`,
    `write_file ${kongEnvPath} 0600 <<<"$kong_env"`,
    withHeredoc("write_unit kong.service", renderKongUnit()),
    ...serviceFiles,
    "if ((units_changed)); then systemctl daemon-reload; fi",
    "}",
    "",
  ].join("\n");
}

const migratorSteps = (adminPort: number) => `
readonly ADMIN=http://127.0.0.1:${adminPort}
run_migrations() {
  local status=0
  kong_cli migrations list -c "$ROOT${kongConfPath}" >/dev/null 2>&1 || status=$?
  case $status in
    0) log "Kong's database schema is up to date" ;;
    3) log "bootstrapping Kong's database"
       kong_cli migrations bootstrap -c "$ROOT${kongConfPath}" ;;
    4 | 5) log "running pending Kong migrations"
       kong_cli migrations up -c "$ROOT${kongConfPath}"
       kong_cli migrations finish -c "$ROOT${kongConfPath}" ;;
    *) fail "kong migrations list exited with status $status (database unreachable?)" ;;
  esac
}

# Upserts every entity by name, then deletes the ones this project tagged and no longer wants.
apply_kong_entities() {
  local method path body kind name
  local -A wanted=()
  while IFS=$'\\t' read -r method path body; do
    curl -fsS -o /dev/null -X "$method" -H "Content-Type: application/json" --data "$body" "$ADMIN$path"
    wanted[$path]=1
  done < "$ROOT/etc/kong/admin-requests.tsv"
  for kind in plugins routes services; do
    while read -r name; do
      if [[ -z "\${wanted[/$kind/$name]:-}" ]]; then
        log "deleting $kind/$name, no longer configured"
        curl -fsS -o /dev/null -X DELETE "$ADMIN/$kind/$name"
      fi
    done < <(curl -fsS "$ADMIN/$kind?tags=geo-api-layer&size=1000" | jq -r '.data[] | if .name then .name else .id end')
  done
  log "applied $(grep -c . "$ROOT/etc/kong/admin-requests.tsv") Kong entities"
}
`;

const nodeSteps = `
wait_for_migrations() {
  local status
  log "waiting for the migrator to bring Kong's database schema up to date"
  while true; do
    status=0
    kong_cli migrations list -c "$ROOT${kongConfPath}" >/dev/null 2>&1 || status=$?
    if ((status == 0)); then break; fi
    if (($(seconds_left) <= 0)); then fail "Kong's database schema still not up to date (kong migrations list: $status) after $BOOT_BUDGET_SEC s"; fi
    sleep 10
  done
  log "Kong's database schema is up to date"
}
`;

function mainSteps(input: StartupScriptInput): string {
  const serviceUnits = input.services.map((s) => serviceUnitName(s.name));
  const kongReady = `wait_http kong "http://127.0.0.1:${input.statusPort}/status/ready"`;
  const roleSteps =
    input.role === "migrator"
      ? [
          "run_migrations",
          withHeredoc("write_file /etc/kong/admin-requests.tsv 0644", input.kongAdminRequests ?? ""),
          "systemctl start kong.service",
          kongReady,
          "apply_kong_entities",
          "systemctl stop kong.service",
          `log "migrations and Kong entities applied in $((SECONDS - started_at)) s; powering off"`,
          "systemctl poweroff",
        ]
      : [
          "wait_for_migrations",
          `systemctl enable ${["kong.service", ...serviceUnits].join(" ")}`,
          // A changed file (a rotated secret) needs a restart; otherwise start is a no-op when running.
          `if ((config_changed)); then action=restart; else action=start; fi`,
          ...(serviceUnits.length ? [`systemctl "$action" ${serviceUnits.join(" ")}`] : []),
          ...input.services.map((s) => `wait_http ${s.name} "http://127.0.0.1:${s.port}${s.healthPath}"`),
          // Kong last: the load balancer sees this VM only once the services behind it answer.
          `systemctl "$action" kong.service`,
          kongReady,
          `log "ready in $((SECONDS - started_at)) s"`,
        ];
  return `if [[ -f "$INSTALL_MARKER" ]]; then
  log "packages already installed; skipping to configuration"
else
  install_packages
fi
write_config
if ((config_changed)); then log "configuration differs from the last boot"; fi
${roleSteps.join("\n")}
`;
}

/** Fingerprint of everything the install step does: a change to it installs again. */
function installFingerprint(input: StartupScriptInput): string {
  return createHash("sha256").update(installSteps(input)).digest("hex").slice(0, 16);
}

export function renderStartupScript(input: StartupScriptInput): string {
  return [
    "#!/usr/bin/env bash",
    `# geo-api-layer boot script for a ${input.role} in ${input.region}; rendered by startup/startup-script.ts.`,
    "# Runs on every boot: each step is idempotent.",
    "set -Eeuo pipefail",
    "umask 022",
    `readonly ROLE=${input.role}`,
    `readonly BOOT_BUDGET_SEC=${input.bootBudgetSec}`,
    library,
    `readonly INSTALL_MARKER="$STATE_DIR/installed-${installFingerprint(input)}"`,
    "mkdir -p \"$STATE_DIR\"",
    "",
    installSteps(input),
    configSteps(input),
    input.role === "migrator" ? migratorSteps(input.adminPort) : nodeSteps,
    mainSteps(input),
  ].join("\n");
}
