/**
 * What every VM of the stack is given and called, which validation checks and startup renders
 * alike: Kong's listeners, each service's Linux user and unit, the variables every service gets.
 */

/** Kong's Admin API port on every Kong VM (loopback); no service may take it. */
export const kongAdminPort = 8001;

export interface KongListenerPorts {
  proxyPort: number;
  statusPort: number;
  adminPort: number;
}

/** kong.conf's `*_listen` settings: the ports Kong takes on a VM. */
export function kongListeners(ports: KongListenerPorts): [string, string][] {
  return [
    // Loopback only: the Admin API can rewrite every route and has no authentication in OSS.
    ["admin_listen", `127.0.0.1:${ports.adminPort}`],
    ["proxy_listen", `0.0.0.0:${ports.proxyPort}`],
    // Loopback: health checks probe Kong's health route on the proxy port (kongHealthPath); the
    // status API connects to the database on every request and is for the boot script only.
    ["status_listen", `127.0.0.1:${ports.statusPort}`],
    // Kong Manager listens on 0.0.0.0:8002 and 8445 by default, even in OSS (kong_defaults.lua).
    ["admin_gui_listen", "off"],
  ];
}

export const serviceUser = (name: string) => `svc-${name}`;
export const serviceUnitName = (name: string) => `geo-svc-${name}.service`;

/** Variables the program sets for every service: where it runs, as the messenger's services expect. */
export const variablesOfEveryService = ["PROJECT_ID", "REGION"] as const;
