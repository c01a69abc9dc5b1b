/**
 * What every VM of the stack is given and called, which validation checks and startup renders
 * alike: Kong's listeners, each service's Linux user and unit, the variables every service gets.
 */

/** Kong's Admin API port on every Kong VM (loopback); no service may take it. */
export const kongAdminPort = 8001;

/** Hybrid mode's cluster listener on control planes (Kong's default, `cluster_listen`). */
export const kongClusterPort = 8005;

/**
 * A node's role in Kong's terms: `traditional` serves traffic from its own store; in hybrid, a
 * `control_plane` holds the database and pushes the configuration to `data_plane`s, which serve.
 */
export type KongRole = "traditional" | "control_plane" | "data_plane";

export interface KongListenerPorts {
  proxyPort: number;
  statusPort: number;
  adminPort: number;
}

/** kong.conf's `*_listen` settings: the ports Kong takes on a VM. */
export function kongListeners(ports: KongListenerPorts, role: KongRole = "traditional"): [string, string][] {
  const controlPlane = role === "control_plane";
  return [
    // Loopback only: the Admin API can rewrite every route and has no authentication in OSS.
    ["admin_listen", `127.0.0.1:${ports.adminPort}`],
    // A control plane proxies nothing.
    ["proxy_listen", controlPlane ? "off" : `0.0.0.0:${ports.proxyPort}`],
    // Loopback: health checks probe Kong's health route on the proxy port (kongHealthPath); the
    // status API connects to the database on every request and is for the boot script only. A
    // control plane has no proxy: its internal load balancer checks `/status/ready` (the database
    // answers, kong/status/ready.lua), so there it listens on every address, for Google's checkers.
    ["status_listen", `${controlPlane ? "0.0.0.0" : "127.0.0.1"}:${ports.statusPort}`],
    ...(controlPlane ? ([["cluster_listen", `0.0.0.0:${kongClusterPort}`]] as [string, string][]) : []),
    // Kong Manager listens on 0.0.0.0:8002 and 8445 by default, even in OSS (kong_defaults.lua).
    ["admin_gui_listen", "off"],
  ];
}

export const serviceUser = (name: string) => `svc-${name}`;
export const serviceUnitName = (name: string) => `geo-svc-${name}.service`;

/** Variables the program sets for every service: where it runs, as the messenger's services expect. */
export const variablesOfEveryService = ["PROJECT_ID", "REGION"] as const;
