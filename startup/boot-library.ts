/**
 * The bash functions boot scripts are built from. Only the functions a VM needs are emitted, so
 * every rendered script passes shellcheck without unused code.
 */
import { kongConfPath, kongEnvPath } from "./systemd";

/** Every script: logging, failure, retries, idempotent file writes, metadata and secrets, waits. */
export const commonFunctions = `
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

# retry ATTEMPTS COMMAND...: transient apt and network failures get a few tries with backoff;
# the last failure fails the boot, naming the command.
retry() {
  local attempts=$1 n=1
  shift
  until "$@"; do
    if ((n >= attempts)); then fail "gave up after $attempts attempts: $*"; fi
    log "retrying ($n/$attempts): $*"
    sleep $((n * RETRY_BACKOFF_SEC))
    n=$((n + 1))
  done
}
readonly RETRY_BACKOFF_SEC="\${GEO_API_LAYER_RETRY_BACKOFF_SEC:-5}"

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

# wait_http NAME URL: until URL answers 2xx, within the boot budget.
wait_http() {
  log "waiting for $1 at $2"
  until curl -fsS -o /dev/null --max-time 5 "$2"; do
    if (($(seconds_left) <= 0)); then fail "$1 not ready at $2 within $BOOT_BUDGET_SEC s of boot"; fi
    sleep "\${GEO_API_LAYER_POLL_SEC:-5}"
  done
  log "$1 is ready"
}
`;

/** Reading a Secret Manager secret with the VM's own service account. */
export const secretFunctions = `
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
`;

/** The kong CLI with the database password from the root-only env file. */
export const kongCliFunctions = `
kong_cli() {
  # shellcheck source=/dev/null # written at boot
  (set -a && . "$ROOT${kongEnvPath}" && set +a && kong "$@" -c "$ROOT${kongConfPath}")
}
`;

/** Bringing Kong's schema up to date: the migrator, or a VM with its own database. */
export const migrationFunctions = `
run_migrations() {
  local status=0
  kong_cli migrations list >/dev/null 2>&1 || status=$?
  case $status in
    0) log "Kong's database schema is up to date" ;;
    3) log "bootstrapping Kong's database"
       kong_cli migrations bootstrap ;;
    4 | 5) log "running pending Kong migrations"
       kong_cli migrations up
       kong_cli migrations finish ;;
    *) fail "kong migrations list exited with status $status (database unreachable?)" ;;
  esac
}
`;

/** A gateway on the shared database: only the migrator migrates; everyone else waits, bounded. */
export const waitForMigrationsFunctions = `
wait_for_migrations() {
  local status
  log "waiting for the migrator to bring Kong's database schema up to date"
  while true; do
    status=0
    kong_cli migrations list >/dev/null 2>&1 || status=$?
    if ((status == 0)); then break; fi
    if (($(seconds_left) <= 0)); then fail "Kong's database schema still not up to date (kong migrations list: $status) after $BOOT_BUDGET_SEC s"; fi
    sleep "\${GEO_API_LAYER_POLL_SEC:-10}"
  done
  log "Kong's database schema is up to date"
}
`;

/** Writing Kong's entities through the local Admin API. */
export const kongEntityFunctions = (adminPort: number) => `
readonly ADMIN=http://127.0.0.1:${adminPort}

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
    # Plugins are addressed by id (their name is the plugin type); routes and services by name.
    done < <(curl -fsS "$ADMIN/$kind?tags=geo-api-layer&size=1000" | jq -r --arg kind "$kind" '.data[] | if $kind == "plugins" then .id else .name end')
  done
  log "applied $(grep -c . "$ROOT/etc/kong/admin-requests.tsv") Kong entities"
}
`;

/**
 * The sidecar's own PostgreSQL: a password made on first boot and kept root-only, then the role
 * and the database (OWNER kong, which PostgreSQL 15+ needs for the public schema), each created
 * only when missing.
 */
export const localDatabaseFunctions = `
prepare_local_database() {
  local random
  if [[ ! -s "$ROOT${kongEnvPath}" ]]; then
    random=$(head -c 48 /dev/urandom | base64 -w 0)
    random=\${random//[^A-Za-z0-9]/}
    write_file ${kongEnvPath} 0600 <<<"KONG_PG_PASSWORD=\\"\${random:0:32}\\""
  fi
  systemctl enable --now postgresql.service
  until pg_isready -q; do
    if (($(seconds_left) <= 0)); then fail "local PostgreSQL not ready within $BOOT_BUDGET_SEC s of boot"; fi
    sleep 2
  done
  # shellcheck source=/dev/null # written above
  (set -a && . "$ROOT${kongEnvPath}" && set +a &&
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres -f - <<'SQL'
\\getenv password KONG_PG_PASSWORD
SELECT format('CREATE ROLE kong LOGIN PASSWORD %L', :'password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kong') \\gexec
SELECT 'CREATE DATABASE kong OWNER kong'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kong') \\gexec
SQL
  )
  log "local PostgreSQL has the kong role and database"
}
`;
