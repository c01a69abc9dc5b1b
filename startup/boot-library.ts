/**
 * The bash functions boot scripts are built from. Only the functions a VM needs are emitted, so
 * every rendered script passes shellcheck without unused code.
 */
import { kongPasswordVariable } from "./kong-conf";
import { kongConfPath, kongEnvPath, kongFileLimit } from "./systemd";

/** Every script: where it writes, the metadata server, when it started. */
const scriptBasics = `
readonly ROOT="\${GEO_API_LAYER_ROOT:-}" # a sandbox root in tests; empty on a VM
readonly STATE_DIR="$ROOT/var/lib/geo-api-layer"
readonly METADATA=http://metadata.google.internal/computeMetadata/v1
readonly started_at=$SECONDS
`;

/** What write_file and write_unit set. */
const changeFlags = `units_changed=0
config_changed=0
file_changed=0
`;

/** What starts every line a script logs, before `[ROLE]: `. */
export const logTag = "geo-api-layer";

/** What a line that fails the boot (or a build) says first: the boot-failure alert's log-based metric counts these. */
export const failureMarker = "FAILED:";

/** Logging, failing the boot, the budget, retries, apt. */
const failureAndRetries = `
# To stderr: a line logged inside a command substitution still reaches the journal.
log() { echo "${logTag}[$ROLE]: $*" >&2; }

# Any failure stops Kong, so health checks fail and autohealing replaces this VM.
fail() {
  log "${failureMarker} $*"
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
`;

/** Idempotent file writes. */
const fileWrites = `
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
`;

/** Reading the metadata server. */
const metadataFunction = `
metadata() { curl -fsS --retry 5 -H "Metadata-Flavor: Google" "$METADATA/$1"; }
`;

/** Waiting for a local URL. */
const httpWait = `
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

/** Every VM script: logging, failure, retries, idempotent file writes, metadata, waits. */
export const commonFunctions = scriptBasics + changeFlags + failureAndRetries + fileWrites + metadataFunction + httpWait;

/** The builder's script: it writes no configuration and waits for nothing local. */
export const builderBasics = scriptBasics + failureAndRetries + metadataFunction;

/**
 * Google's APIs with the VM's own service account: the token reaches curl on its standard input
 * (-H @-), never on a command line, which every local user can read in /proc/PID/cmdline. A new
 * grant takes minutes to reach an API, so 403 and 404 are retried within the boot budget (curl's
 * --retry does not retry them).
 */
export const googleApiFunctions = `
# account_token: this VM's service account's access token, from the metadata server.
account_token() { metadata "instance/service-accounts/default/token" | jq -r .access_token; }

# not_readable_yet WHAT STATUS HINT: after a 403 or 404, waits to retry while the boot budget
# lasts; fails the boot on any other status, or with HINT once the budget is spent.
not_readable_yet() {
  case $2 in
    403 | 404)
      within_budget "$1 still unreadable (HTTP $2) $BOOT_BUDGET_SEC s after boot: $3"
      log "$1 not readable yet (HTTP $2; IAM grants take minutes to propagate); retrying"
      sleep "\${GEO_API_LAYER_POLL_SEC:-10}" ;;
    *) fail "reading $1 failed with HTTP $2" ;;
  esac
}
`;

/** Reading a Secret Manager secret with the VM's own service account. */
export const secretFunctions = `
# secret_env_line NAME RESOURCE: NAME="value" for systemd's EnvironmentFile, quoted like envLine in
# systemd.ts; the value, read from Secret Manager with this VM's account, never becomes a shell word
# nor touches a disk.
secret_env_line() {
  local token response status
  while true; do
    token=$(account_token)
    response=$(printf 'Authorization: Bearer %s\\n' "$token" |
      curl -sS --retry 5 -H @- -w '\\n%{http_code}' "https://secretmanager.googleapis.com/v1/$2:access") ||
      fail "reading secret $2: Secret Manager could not be reached"
    status=\${response##*$'\\n'}
    if [[ $status == 200 ]]; then break; fi
    not_readable_yet "secret $2" "$status" "does it exist, and may this VM's service account access it?"
  done
  jq -r --arg name "$1" '(.payload.data | @base64d) as $value
    | if ($value | test("[\\u0000-\\u001f]")) then error("secret of \\($name) has control characters")
      else $name + "=" + ($value | tojson) end' <<<"\${response%$'\\n'*}"
}
`;

/** Cloud Storage's JSON API, for the builder and the VMs that download what it built. */
const storageApi = "https://storage.googleapis.com";

/** An object's name as one segment of the API's path; in the builder's and the fleet's functions, which no script holds both of. */
const uriFunction = `uri() { jq -rn --arg s "$1" '$s | @uri'; }`;

/**
 * A git-built service's artifact, as the builder stored it (components/service-builds.ts): one
 * generation of one object, so every VM of a template unpacks the same bytes.
 */
export const artifactFunctions = `
${uriFunction}

# install_artifact SERVICE BUCKET OBJECT GENERATION SHA256 DIR: downloads that generation of the
# object with this VM's account, checks its SHA-256 and unpacks it into DIR (root's; the service
# may read, not change its code). Missing (404) or not yet granted (403): retried within the boot
# budget. A wrong checksum fails at once: the bytes will not get better.
install_artifact() {
  local service=$1 name="gs://$2/$3#$4" file token status sum
  file=$(mktemp)
  while true; do
    token=$(account_token)
    status=$(printf 'Authorization: Bearer %s\\n' "$token" |
      curl -sS --retry 5 -H @- -o "$file" -w '%{http_code}' "${storageApi}/storage/v1/b/$2/o/$(uri "$3")?alt=media&generation=$4") ||
      fail "downloading $service's artifact $name: Cloud Storage could not be reached"
    if [[ $status == 200 ]]; then break; fi
    not_readable_yet "$service's artifact $name" "$status" "is it stored (the builder's log), and may this VM's service account read it?"
  done
  sum=$(sha256sum "$file" | cut -d' ' -f1)
  if [[ $sum != "$5" ]]; then
    rm -f "$file"
    fail "$service's artifact $name is corrupt: its SHA-256 is $sum, the builder stored $5"
  fi
  rm -rf "$6" && mkdir -p "$6"
  tar -xzf "$file" -C "$6" --no-same-owner
  rm -f "$file"
  log "installed $service's artifact $name ($(du -sh "$6" | cut -f1))"
}
`;

/**
 * The builder's own steps: whether a build is stored, building it as an unprivileged user, and
 * storing the artifact and then its manifest, which is what \`pulumi up\` waits for; a failed
 * build stores its log's last lines where \`pulumi up\` finds them.
 */
export const builderFunctions = (user: string) => `
readonly STORAGE=${storageApi}

# storage_call METHOD URL [FILE CONTENT_TYPE]: one call with this VM's account; prints the body
# and then the HTTP status on a line of its own.
storage_call() {
  local upload=() token
  if (($# > 2)); then upload=(--data-binary "@$3" -H "Content-Type: $4"); fi
  token=$(account_token)
  printf 'Authorization: Bearer %s\\n' "$token" |
    curl -sS --retry 5 -H @- -X "$1" "\${upload[@]}" -w '\\n%{http_code}' "$2" ||
    fail "$1 $2: Cloud Storage could not be reached"
}

${uriFunction}

# stored BUCKET OBJECT: whether the object exists (a new grant is waited for).
stored() {
  local response status
  while true; do
    response=$(storage_call GET "$STORAGE/storage/v1/b/$1/o/$(uri "$2")")
    status=\${response##*$'\\n'}
    case $status in
      200) return 0 ;;
      404) return 1 ;;
      *) not_readable_yet "gs://$1/$2" "$status" "may the builder's service account read the bucket?" ;;
    esac
  done
}

# upload BUCKET OBJECT FILE CONTENT_TYPE: stores FILE unless the object exists (ifGenerationMatch=0:
# what is stored never changes); prints the object's generation.
upload() {
  local response status
  response=$(storage_call POST "$STORAGE/upload/storage/v1/b/$1/o?uploadType=media&ifGenerationMatch=0&name=$(uri "$2")" "$3" "$4")
  status=\${response##*$'\\n'}
  [[ $status == 200 ]] || fail "storing gs://$1/$2 failed with HTTP $status: \${response%$'\\n'*}"
  jq -r .generation <<<"\${response%$'\\n'*}"
}

# build_artifact BUCKET KEY REPOSITORY REF DIRECTORY PACKAGES COMMAND ARTIFACT...: installs the
# build's packages (a space-separated list), clones, builds as ${user}, packs the artifacts (paths
# relative to DIRECTORY) and stores them, then the manifest.
build_artifact() {
  local bucket=$1 key=$2 repository=$3 ref=$4 directory=$5 packages=$6 command=$7 src archive sum generation
  shift 7
  if [[ -n $packages ]]; then
    # shellcheck disable=SC2086 # a list of package names
    retry 5 apt_get install $packages
  fi
  src="$ROOT/var/lib/${user}/src/$key"
  rm -rf "$src"
  retry 5 git clone --quiet "$repository" "$src"
  git -C "$src" checkout --quiet --detach "$ref"
  chown -R ${user}: "$src"
  within_budget "no time left to build $key"
  log "building $key: $command"
  (cd "$src/$directory" && timeout "$(seconds_left)" runuser -u ${user} -- bash -c "$command")
  archive="$STATE_DIR/$key.tar.gz"
  # Sorted, owned by root, dated 0: the same build makes the same bytes.
  tar -C "$src/$directory" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -czf "$archive" -- "$@"
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  generation=$(upload "$bucket" "builds/$key.tar.gz" "$archive" application/gzip)
  jq -n --arg object "builds/$key.tar.gz" --arg generation "$generation" --arg sha256 "$sum" --argjson bytes "$(stat -c %s "$archive")" \\
    --arg builtBy "$(metadata instance/name)" --argjson seconds $((SECONDS - started_at)) \\
    '{object: $object, generation: $generation, sha256: $sha256, bytes: $bytes, builtBy: $builtBy, seconds: $seconds}' >"$archive.json"
  upload "$bucket" "builds/$key.json" "$archive.json" application/json >/dev/null
  log "stored gs://$bucket/builds/$key.tar.gz#$generation (sha256 $sum, $(stat -c %s "$archive") bytes)"
  rm -rf "$src" "$archive" "$archive.json"
}

# build_or_report BUCKET KEY ...: build_artifact in a subshell, its output to the journal and to its
# log; when it fails, the log's last lines are stored as builds/KEY.failed/<this VM's id>.log, where
# \`pulumi up\` finds them, and \`failed\` counts it. Never call it where bash ignores \`set -e\` (in
# an if, && or ||): the build would go on past a failing step.
build_or_report() {
  local log_file="$STATE_DIR/$2.log" failure status=0
  (build_artifact "$@") > >(tee "$log_file" >&2) 2>&1 &
  wait $! || status=$?
  wait # for tee: the log is whole
  if ((status == 0)); then return 0; fi
  failed=$((failed + 1))
  failure="builds/$2.failed/$(metadata instance/id).log"
  tail -n 60 "$log_file" >"$log_file.tail"
  upload "$1" "$failure" "$log_file.tail" text/plain >/dev/null
  log "${failureMarker} the build of $2 (exit status $status); its last lines are in gs://$1/$failure"
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
