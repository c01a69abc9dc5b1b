/**
 * A gateway that started DB-less from its fallback config (its database did not answer at boot)
 * goes back onto the database once it answers: the script and unit that do it. Pure renderers.
 */
import { schemaCheckFunction } from "./boot-library";
import { kongConfPath, kongEnvPath } from "./systemd";

/** The same entities as the database's, as a declarative config. */
export const fallbackConfigPath = "/etc/kong/fallback.yaml";
/** Where Kong keeps a DB-less node's configuration: `lmdb_environment_path` under its prefix (kong_defaults.lua). */
export const kongLmdbPath = "/usr/local/kong/dbless.lmdb";
/** Turns Kong's unit DB-less; in /run, so a reboot starts without it. */
export const fallbackDropIn = "/run/systemd/system/kong.service.d/geo-api-layer-fallback.conf";
export const databaseReturnScriptPath = "/usr/local/lib/geo-api-layer/kong-database-return";
export const databaseReturnUnit = "geo-kong-database-return.service";

/**
 * Polls `kong migrations list` (the CLI reads the primary only); once Kong would start on the
 * database, restarts Kong on it and keeps it there when its health route answers within a minute,
 * else goes back to the fallback config and polls again. The restart is a few seconds without Kong
 * on this VM, within the load balancer's unhealthy threshold.
 */
export function renderDatabaseReturnScript(options: { healthUrl: string }): string {
  return `#!/usr/bin/env bash
# Rendered by geo-api-layer (startup/kong-fallback.ts): Kong back onto its database.
set -uo pipefail
readonly DROP_IN=${fallbackDropIn}
log() { echo "geo-api-layer[kong-database-return]: $*" >&2; }
${schemaCheckFunction}
serving() {
  local deadline=$((SECONDS + 60))
  until curl -fs -o /dev/null --max-time 5 ${options.healthUrl}; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 2
  done
}

while sleep "\${GEO_API_LAYER_RETURN_POLL_SEC:-30}"; do
  status=0
  output=$(/usr/local/bin/kong migrations list -c ${kongConfPath} 2>&1) || status=$?
  schema_allows_start "$status" "$output" || continue
  log "Kong's database answers; restarting Kong on it"
  mv -f "$DROP_IN" "$DROP_IN.off"
  systemctl daemon-reload
  systemctl restart kong.service
  if serving; then
    rm -f "$DROP_IN.off"
    log "Kong serves from its database again"
    exit 0
  fi
  log "Kong did not serve from its database within 60 s; back to the fallback config"
  mv -f "$DROP_IN.off" "$DROP_IN"
  systemctl daemon-reload
  systemctl restart kong.service
done
`;
}

/** Started by the boot script only when Kong started from the fallback config. */
export function renderDatabaseReturnUnit(): string {
  return `[Unit]
Description=Kong back onto its database once it answers (geo-api-layer)
After=kong.service

[Service]
Type=simple
EnvironmentFile=${kongEnvPath}
ExecStart=${databaseReturnScriptPath}
Restart=on-failure
RestartSec=30
`;
}
