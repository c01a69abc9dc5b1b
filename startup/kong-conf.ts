/**
 * kong.conf for a node. Only keys Kong 3.9 knows (checked by a test against Kong's own list);
 * never the database password, which reaches Kong through a vault reference to a variable of the
 * root-only env file.
 */
import { googleFrontEndRanges } from "../config/google-ranges";
import { KongListenerPorts, kongListeners, KongRole } from "../config/vm-contract";

/** The variable of /etc/kong/kong.env that holds Kong's database password. */
export const kongPasswordVariable = "GEO_KONG_PG_PASSWORD";

/**
 * `pg_password` as a reference to Kong's `env` vault, which reads kongPasswordVariable
 * (kong/vaults/env/init.lua at 3.9.1: the name upper-cased, `-` to `_`). `kong prepare` writes the reference,
 * not the value, into `<prefix>/.kong_env` (mode 0640); the resolved value goes only into
 * `<prefix>/.kong_process_secrets_http`, which nginx's init reads and deletes
 * (kong/cmd/utils/prefix_handler.lua, kong/conf_loader/init.lua).
 * Not `KONG_PG_PASSWORD`, which Kong would read as the setting itself and write out in the clear.
 */
export const kongPasswordReference = `{vault://env/${kongPasswordVariable.toLowerCase().replace(/_/g, "-")}}`;

/**
 * Where Kong's nginx logs. nginx opens log paths itself; under systemd, /dev/stdout and /dev/stderr
 * are journald's stream socket, which open() refuses (ENXIO), so nginx would exit at once. It
 * writes to journald's syslog socket instead; `journalctl -t kong -t kong_access` reads them
 * (without `nohostname`, journald would take the host name for the tag).
 */
export const kongErrorLog = "syslog:server=unix:/dev/log,nohostname,tag=kong";
export const kongAccessLog = "syslog:server=unix:/dev/log,nohostname,tag=kong_access";

/**
 * How long a server behind a Google Application Load Balancer keeps an idle connection: past the
 * load balancer's fixed 600 s, as Google's external Application Load Balancer docs ask.
 */
export const loadBalancerKeepaliveSec = 620;

/** Hybrid mode's shared certificate (public) and its key (root-only, from Secret Manager). */
export const kongClusterCertPath = "/etc/kong/cluster.crt";
export const kongClusterKeyPath = "/etc/kong/cluster.key";

/** The Cloud SQL primary's server CA, which Kong verifies the database's certificate against. */
export const kongDatabaseCaPath = "/etc/kong/cloud-sql-ca.pem";

/**
 * Whose X-Forwarded-For entries Kong believes. Google's front ends connect from their ranges and
 * append `<client>, <load balancer address>`; trusting only the ranges would make every client the
 * load balancer's address. With that address trusted too, Kong takes the entry left of it, which
 * the front end wrote: whatever a client sends stays further left and is never believed.
 */
export function kongTrustedIps(loadBalancerAddress: string): string[] {
  return [...googleFrontEndRanges, `${loadBalancerAddress}/32`];
}

export interface KongDatabaseEndpoint {
  host: string;
  /**
   * Cloud SQL (ENCRYPTED_ONLY): TLS, and the server's certificate must chain to a CA of
   * kongDatabaseCaPath. A PostgreSQL on loopback: no TLS.
   */
  verifiedTls: boolean;
}

export interface KongConfInput extends KongListenerPorts {
  memCacheSize: string;
  /** Peers whose X-Forwarded-For entries Kong believes (kongTrustedIps). */
  trustedIps: string[];
  /** Undefined for DB-less: `database = off`. */
  database?: KongDatabaseEndpoint;
  /** DB-less only: path of the declarative config file. */
  declarativeConfigPath?: string;
  /** Hybrid mode; undefined for a traditional node. */
  cluster?: KongClusterRole;
}

/** A node of Kong's hybrid mode, with the shared certificate (kongClusterCertPath). */
export type KongClusterRole =
  | { role: "control_plane" }
  /** `controlPlane`: host:port of the control planes' load balancer. */
  | { role: "data_plane"; controlPlane: string };

export function kongConfSettings(input: KongConfInput): [string, string][] {
  const role: KongRole = input.cluster?.role ?? "traditional";
  const settings: [string, string][] = [
    ...kongListeners(input, role),
    ["proxy_access_log", kongAccessLog],
    ["proxy_error_log", kongErrorLog],
    ["admin_access_log", kongAccessLog],
    ["admin_error_log", kongErrorLog],
    ["status_access_log", "off"],
    ["status_error_log", kongErrorLog],
    ["nginx_worker_processes", "auto"],
    ["mem_cache_size", input.memCacheSize],
    ["upstream_keepalive_pool_size", "512"],
    // Google's Application Load Balancers keep idle connections to a backend 600 s and require the
    // backend to keep them longer; nginx's default (75 s) would close first and cause 502s.
    ["nginx_proxy_keepalive_timeout", `${loadBalancerKeepaliveSec}s`],
    // The client's address from X-Forwarded-For: nginx's realip module (Kong's template at 3.9.1,
    // nginx_kong.lua: set_real_ip_from per trusted IP) walks it from the right past trusted entries.
    ["trusted_ips", input.trustedIps.join(",")],
    ["real_ip_header", "X-Forwarded-For"],
    ["real_ip_recursive", "on"],
    ["anonymous_reports", "off"],
  ];
  if (input.cluster) {
    settings.push(
      ["role", input.cluster.role],
      // Kong's default, said outright: the data plane's client certificate must be this one (clustering/tls.lua).
      ["cluster_mtls", "shared"],
      ["cluster_cert", kongClusterCertPath],
      ["cluster_cert_key", kongClusterKeyPath],
      ...(input.cluster.role === "data_plane" ? ([["cluster_control_plane", input.cluster.controlPlane]] as [string, string][]) : []),
    );
  }
  if (input.database) {
    settings.push(
      ["database", "postgres"],
      ["pg_host", input.database.host],
      ["pg_port", "5432"],
      ["pg_user", "kong"],
      ["pg_password", kongPasswordReference],
      ["pg_database", "kong"],
      ["pg_ssl", input.database.verifiedTls ? "on" : "off"],
      // Kong's pgmoon hands nginx no server name (Kong/pgmoon, pgmoon/init.lua send_ssl_message:
      // tlshandshake({ verify })), so nginx checks the chain to lua_ssl_trusted_certificate, not the
      // host: Cloud SQL's server certificate does not name its private IP, its per-instance CA signs it.
      ...(input.database.verifiedTls
        ? ([
            ["pg_ssl_verify", "on"],
            ["lua_ssl_trusted_certificate", `system,${kongDatabaseCaPath}`],
          ] as [string, string][])
        : []),
      ["db_update_frequency", "5"],
      // Cached entities never expire; invalidations come through the cluster events table. No
      // pg_ro_host: Kong never falls back from a replica to the primary, and a node reading a
      // replica that lags more than db_update_propagation (as one catching up after an outage
      // does) misses a change's cluster event and keeps the old config until the next change.
      ["db_cache_ttl", "0"],
    );
  } else {
    settings.push(["database", "off"]);
    if (input.declarativeConfigPath) settings.push(["declarative_config", input.declarativeConfigPath]);
  }
  return settings;
}

/** A setting's value in a rendered kong.conf, as renderKongConf writes it (`key = value`). */
export function kongConfValue(conf: string, key: string): string | undefined {
  return new RegExp(`^${key} = (.*)$`, "m").exec(conf)?.[1];
}

export function renderKongConf(input: KongConfInput): string {
  const lines = kongConfSettings(input).map(([key, value]) => `${key} = ${value}`);
  const header = input.database
    ? "# Rendered by geo-api-layer (startup/kong-conf.ts); the password is a reference to /etc/kong/kong.env."
    : "# Rendered by geo-api-layer (startup/kong-conf.ts); no database, so no password.";
  return [header, ...lines, ""].join("\n");
}
