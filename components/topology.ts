/**
 * What each topology means for the parts every topology has: the load balancer's health check,
 * the ports the firewall opens, Kong's configuration. Pure; the components follow it.
 */
import type { ServiceConfig } from "../config/schema";
import type { StackConfig, Topology } from "../config/validate";
import { kongAdminPort } from "../config/validate";
import { googleFrontEndRanges } from "../config/google-ranges";
import { KongDatabaseEndpoint, renderKongConf } from "../startup/kong-conf";
import { declarativeConfigPath } from "../startup/startup-script";
import { kongHealthPath } from "../startup/kong-entities";

export interface HealthCheckTarget {
  port: number;
  path: string;
}

/** Named port of Kong's groups; the global backend service's `portName` must be the same. */
export const kongProxyPortName = "kong-proxy";

/**
 * Kong's health route on its proxy port (kongHealthPath): every check of a Kong group, the load
 * balancers' and autohealing's. It touches no database, so a node keeps passing it while the
 * shared database's region is dark and it proxies from its cache, and it passes only once the
 * node's routes are loaded.
 */
export function kongHealth(proxyPort: number): HealthCheckTarget {
  return { port: proxyPort, path: kongHealthPath };
}

/**
 * What the global load balancer checks: Kong's health route where Kong faces it; in standalone,
 * the user-facing service itself, which the load balancer fronts directly.
 */
export function loadBalancerHealthCheck(config: StackConfig): HealthCheckTarget {
  return isColocated(config.topology) ? kongHealth(config.kong.proxyPort) : { port: config.entryService.port, path: config.entryService.healthPath };
}

/** Kong runs on the same VMs as the services (one tier per region). */
export function isColocated(topology: Topology): boolean {
  return topology !== "standalone";
}

export function firewallPorts(config: StackConfig): { loadBalancer: number[]; internal: number[] } {
  // Kong's health checks probe its proxy port too; its status listener is on loopback.
  const kong = config.kong.proxyPort;
  if (isColocated(config.topology)) return { loadBalancer: [kong], internal: [kong] };
  // Standalone: the global load balancer reaches the entry tier, internal load balancers and their
  // health checks (from the same Google ranges) reach every tier.
  const servicePorts = config.services.map((s: ServiceConfig) => s.port);
  return { loadBalancer: [kong, ...servicePorts], internal: [kong, ...servicePorts] };
}

/**
 * Whose X-Forwarded-For entries Kong believes. Google's front ends connect from their ranges and
 * append `<client>, <load balancer address>`; trusting only the ranges would make every client the
 * load balancer's address. With that address trusted too, Kong takes the entry left of it, which
 * the front end wrote: whatever a client sends stays further left and is never believed.
 */
export function kongTrustedIps(loadBalancerAddress: string): string[] {
  return [...googleFrontEndRanges, `${loadBalancerAddress}/32`];
}

/**
 * kong.conf for a topology; `database` is the shared or local PostgreSQL, none for dbless;
 * `loadBalancerAddress` the global load balancer's.
 */
export function kongConfFor(config: StackConfig, loadBalancerAddress: string, database?: KongDatabaseEndpoint): string {
  return renderKongConf({
    ...config.kong,
    adminPort: kongAdminPort,
    trustedIps: kongTrustedIps(loadBalancerAddress),
    database,
    ...(config.topology === "dbless" ? { declarativeConfigPath } : {}),
  });
}
