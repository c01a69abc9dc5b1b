/**
 * The bash functions boot scripts are built from. Only the functions a VM needs are emitted, so
 * every rendered script passes shellcheck without unused code.
 */
import { kongPasswordVariable } from "./kong-conf";
import { kongConfPath, kongEnvPath, kongFileLimit } from "./systemd";

/** Every script: logging, failure, retries, idempotent file writes, metadata and secrets, waits. */
export const commonFunctions = `
readonly ROOT="\${GEO_API_LAYER_ROOT:-}" # a sandbox root in tests; empty on a VM
readonly STATE_DIR="$ROOT/var/lib/geo-api-layer"
readonly METADATA=http://metadata.google.internal/computeMetadata/v1
readonly started_at=$SECONDS
units_changed=0
config_changed=0
file_changed=0

# To stderr: a line logged inside a command substitution still reaches the journal.
log() { echo "geo-api-layer[$ROLE]: $*" >&2; }

# Any failure stops Kong, so health checks fail and autohealing replaces this VM.
fail() {
  log "FAILED: $*"
  systemctl stop kong.service >/dev/null 2>&1 || true
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND exited with status $?"' ERR

seconds_left() { echo $((BOOT_BUDGET_SEC - (SECONDS - started_at))); }

# within_budget MESSAGE: fails the boot with MESSAGE once the boot budget is spent; every wait calls it.
within_budget() {
  if (($(seconds_left) <= 0)); then fail "$*"; fi
}

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

# wait_http NAME URL: until URL answers 2xx, within the boot budget; every second, since a local
# request costs nothing and each second of waiting is a second the VM does not serve.
wait_http() {
  log "waiting for $1 at $2"
  until curl -fs -o /dev/null --max-time 5 "$2"; do
    within_budget "$1 not ready at $2 within $BOOT_BUDGET_SEC s of boot"
    sleep "\${GEO_API_LAYER_POLL_SEC:-1}"
  done
  log "$1 is ready"
}
`;

/** Reading a Secret Manager secret with the VM's own service account. */
export const secretFunctions = `
# secret_env_line NAME RESOURCE: NAME="value" for systemd's EnvironmentFile, quoted like envLine in
# systemd.ts; the value, read from Secret Manager with this VM's account, never becomes a shell word.
# The token reaches curl on its standard input (-H @-), never on a command line, which every local
# user can read in /proc/PID/cmdline. A new grant takes minutes to reach Secret Manager, so 403 and
# 404 are retried within the boot budget (curl's --retry does not retry them).
secret_env_line() {
  local token response status
  while true; do
    token=$(metadata "instance/service-accounts/default/token" | jq -r .access_token)
    response=$(printf 'Authorization: Bearer %s\\n' "$token" |
      curl -sS --retry 5 -H @- -w '\\n%{http_code}' "https://secretmanager.googleapis.com/v1/$2:access") ||
      fail "reading secret $2: Secret Manager could not be reached"
    status=\${response##*$'\\n'}
    case $status in
      200) break ;;
      403 | 404)
        within_budget "secret $2 still unreadable (HTTP $status) $BOOT_BUDGET_SEC s after boot: does it exist, and may this VM's service account access it?"
        log "secret $2 not readable yet (HTTP $status; IAM grants take minutes to propagate); retrying"
        sleep "\${GEO_API_LAYER_POLL_SEC:-10}" ;;
      *) fail "reading secret $2 failed with HTTP $status" ;;
    esac
  done
  jq -r --arg name "$1" '(.payload.data | @base64d) as $value
    | if ($value | test("[\\u0000-\\u001f]")) then error("secret of \\($name) has control characters")
      else $name + "=" + ($value | tojson) end' <<<"\${response%$'\\n'*}"
}
`;

/**
 * Commands that need Kong's password run as transient systemd services with the root-only env
 * file: systemd parses it for them exactly as for kong.service, so a \`$\` or a backtick in a
 * password means one thing everywhere (bash's \`source\` would expand them).
 */
export const kongCliFunctions = `
with_kong_env() {
  systemd-run --quiet --wait --pipe --collect --service-type=exec -p EnvironmentFile=${kongEnvPath} -p LimitNOFILE=${kongFileLimit} "$@"
}

kong_cli() { with_kong_env /usr/local/bin/kong "$@" -c ${kongConfPath}; }
`;

/**
 * Bringing Kong's schema up to date: the migrator, or a VM with its own database. Every exit code
 * of \`kong migrations list\` (kong/cmd/migrations.lua at 3.9.1): 0 up to date, 3 needs bootstrap,
 * 4 pending (an \`up\` whose \`finish\` never ran; \`up\` refuses to run until \`finish\`), 5 new
 * migrations; anything else is an error. 4 can also carry new migrations, so it loops.
 *
 * \`finish\` makes the database "incompatible with the previous Kong version" (kong/cmd/migrations.lua),
 * so on a shared database (\`finish-later\`) new migrations only go \`up\`: the fleets, old and new
 * version alike, keep running while they roll onto the new version, and the next migrator run
 * finishes them (a pending \`up\` it finds is an earlier run's, whose rollout is over). A VM's own
 * database (\`finish-now\`) has no other Kong and finishes at once.
 */
export const migrationFunctions = `
# run_migrations finish-now|finish-later
run_migrations() {
  local finish=$1 status output round
  for round in 1 2 3 4; do
    status=0
    output=$(kong_cli migrations list 2>&1) || status=$?
    case $status in
      0) log "Kong's database schema is up to date"; return 0 ;;
      3) log "bootstrapping Kong's database"
         kong_cli migrations bootstrap ;;
      4) log "finishing pending Kong migrations"
         kong_cli migrations finish ;;
      5) log "running new Kong migrations"
         kong_cli migrations up
         if [[ $finish == finish-later ]]; then
           log "new Kong migrations are up; the next migrator run finishes them, once every group runs this Kong version"
           return 0
         fi
         kong_cli migrations finish ;;
      *) fail "kong migrations list exited with status $status: $(tail -n 1 <<<"$output")" ;;
    esac
  done
  fail "Kong's database schema not up to date after $round rounds of migrations (kong migrations list: $status)"
}
`;

/**
 * Whether Kong itself would start on the database, from \`kong migrations list\`'s status and
 * output: kong/init.lua at 3.9.1 refuses a database that needs bootstrapping or has new migrations,
 * and starts (with a warning) on pending ones, which the migrator finishes.
 */
export const schemaCheckFunction = `
# schema_allows_start STATUS OUTPUT
schema_allows_start() {
  (($1 == 0)) || { (($1 == 4)) && ! grep -q "New migrations available" <<<"$2"; }
}
`;

/**
 * A gateway on the shared database: only the migrator migrates; everyone else waits, bounded, until
 * Kong would start. Where the script sets DATABASE_GRACE_SEC (fallbackFunctions), a database that
 * does not answer at all (any status but 3, 4 and 5, which mean it answers and the migrator has work
 * to do) for that long ends the wait with 1.
 */
export const waitForMigrationsFunctions = `${schemaCheckFunction}
wait_for_migrations() {
  local status output asked_at silent_since=""
  log "waiting for the migrator to bring Kong's database schema up to date"
  while true; do
    status=0
    asked_at=$SECONDS
    output=$(kong_cli migrations list 2>&1) || status=$?
    if schema_allows_start "$status" "$output"; then break; fi
    if ((status >= 3 && status <= 5)); then
      silent_since=""
    else
      silent_since=\${silent_since:-$asked_at}
      if [[ -n \${DATABASE_GRACE_SEC:-} ]] && ((SECONDS - silent_since >= DATABASE_GRACE_SEC)); then
        log "Kong's database does not answer (kong migrations list: $status: $(tail -n 1 <<<"$output"))"
        return 1
      fi
    fi
    within_budget "Kong's database schema still not up to date (kong migrations list: $status) after $BOOT_BUDGET_SEC s"
    sleep "\${GEO_API_LAYER_POLL_SEC:-10}"
  done
  log "Kong's database schema is up to date (kong migrations list: $status)"
}
`;

/**
 * Kong's unit DB-less from the fallback declarative config, through a drop-in in /run that a
 * reboot forgets, so every boot decides anew: the lines that write it, indented by \`indent\`.
 */
const useFallbackConfig = (dropIn: string, fallbackConfig: string, indent: string) => `${indent}mkdir -p "$ROOT${dropIn.slice(0, dropIn.lastIndexOf("/"))}"
${indent}printf '[Service]\nEnvironment=KONG_DATABASE=off\nEnvironment=KONG_DECLARATIVE_CONFIG=%s\n' ${fallbackConfig} >"$ROOT${dropIn}"`;

/**
 * A gateway that can start without its database: Kong on the database when it answers within the
 * grace period, else DB-less from the fallback declarative config (the same entities), through a
 * drop-in in /run that a reboot forgets, so every boot decides anew.
 */
export const fallbackFunctions = (dropIn: string, fallbackConfig: string) => `
readonly DATABASE_GRACE_SEC="\${GEO_API_LAYER_DATABASE_GRACE_SEC:-30}"
on_fallback=0

choose_kong_database() {
  if wait_for_migrations; then
    rm -f "$ROOT${dropIn}"
  else
    log "starting Kong without its database, from ${fallbackConfig}; it goes back onto the database once that answers"
${useFallbackConfig(dropIn, fallbackConfig, "    ")}
    on_fallback=1
  fi
  systemctl daemon-reload
}
`;

/**
 * A data plane serves what the control planes last pushed, which Kong keeps in LMDB on the boot
 * disk and loads at start unless \`declarative_config\` is set (Kong 3.9.1 kong/init.lua: "found
 * persisted lmdb config, loading..."). A new VM's disk has none: it starts from the fallback config
 * (the stack's entities) until a control plane pushes, instead of answering 404 to everything.
 */
export const dataPlaneFunctions = (dropIn: string, fallbackConfig: string, lmdb: string) => `
choose_data_plane_config() {
  if [[ -e "$ROOT${lmdb}/data.mdb" ]]; then
    rm -f "$ROOT${dropIn}"
    log "starting from the configuration the control planes last pushed (${lmdb})"
  else
    log "no configuration from the control planes on this disk yet: starting from ${fallbackConfig} until they push"
${useFallbackConfig(dropIn, fallbackConfig, "    ")}
  fi
  systemctl daemon-reload
}
`;

/**
 * Hybrid's cluster key, kept in Secret Manager base64-encoded (a PEM's newlines are control
 * characters, which secret_env_line refuses): decoded into a root-only file.
 */
export const clusterKeyFunctions = `
# write_cluster_key PATH RESOURCE
write_cluster_key() {
  local line key
  line=$(secret_env_line CLUSTER_KEY "$2")
  key=$(jq -rR 'sub("^CLUSTER_KEY="; "") | fromjson | @base64d' <<<"$line")
  write_file "$1" 0600 <<<"$key"
}
`;

/** Writing Kong's entities through the local Admin API. */
export const kongEntityFunctions = (adminPort: number) => `
readonly ADMIN=http://127.0.0.1:${adminPort}

# Upserts every entity by name, then deletes the ones this project tagged and no longer wants.
# Plugins are addressed by id (their name is the plugin type); routes and services by name.
apply_kong_entities() {
  local method path body kind name listing names
  local -A wanted=()
  while IFS=$'\\t' read -r method path body; do
    curl -fsS -o /dev/null -X "$method" -H "Content-Type: application/json" --data "$body" "$ADMIN$path" ||
      fail "Kong's Admin API refused $method $path"
    wanted[$path]=1
  done < "$ROOT/etc/kong/admin-requests.tsv"
  for kind in plugins routes services; do
    listing=$(curl -fsS "$ADMIN/$kind?tags=geo-api-layer&size=1000") || fail "Kong's Admin API failed to list $kind (GET $ADMIN/$kind)"
    names=$(jq -r --arg kind "$kind" '.data[] | if $kind == "plugins" then .id else .name end' <<<"$listing") ||
      fail "Kong's Admin API listed $kind in an unexpected form: $listing"
    while read -r name; do
      if [[ -n $name && -z "\${wanted[/$kind/$name]:-}" ]]; then
        log "deleting $kind/$name, no longer configured"
        curl -fsS -o /dev/null -X DELETE "$ADMIN/$kind/$name" || fail "Kong's Admin API refused DELETE /$kind/$name"
      fi
    done <<<"$names"
  done
  log "applied $(grep -c . "$ROOT/etc/kong/admin-requests.tsv") Kong entities"
}
`;

/**
 * The sidecar's own PostgreSQL: a password made on first boot and kept root-only, then the role
 * and the database (OWNER kong, which PostgreSQL 15+ needs for the public schema), each created
 * only when missing. psql runs as postgres with the env file parsed by systemd, like Kong's.
 */
export const localDatabaseFunctions = `
prepare_local_database() {
  local random
  if [[ ! -s "$ROOT${kongEnvPath}" ]]; then
    random=$(head -c 48 /dev/urandom | base64 -w 0)
    random=\${random//[^A-Za-z0-9]/}
    write_file ${kongEnvPath} 0600 <<<"${kongPasswordVariable}=\\"\${random:0:32}\\""
  fi
  systemctl enable --now postgresql.service
  until pg_isready -q; do
    within_budget "local PostgreSQL not ready within $BOOT_BUDGET_SEC s of boot"
    sleep 2
  done
  with_kong_env -p User=postgres psql -X -q -v ON_ERROR_STOP=1 -d postgres -f - <<'SQL'
\\getenv password ${kongPasswordVariable}
SELECT format('CREATE ROLE kong LOGIN PASSWORD %L', :'password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kong') \\gexec
SELECT 'CREATE DATABASE kong OWNER kong'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kong') \\gexec
SQL
  log "local PostgreSQL has the kong role and database"
}
`;
