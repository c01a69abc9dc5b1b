/** What every Kong node shares, whatever its topology: its health check, named port and kong.conf. */
import type { StackConfig } from "../../config/stack-config";
import { kongAdminPort } from "../../config/vm-contract";
import { KongClusterRole, KongDatabaseEndpoint, kongTrustedIps, renderKongConf } from "../../startup/kong-conf";
import { kongHealthPath } from "../../startup/kong-entities";
import type { HealthCheckTarget } from "./contract";

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

/** Where Kong's configuration comes from: a PostgreSQL, or (DB-less) a declarative file; a data plane has neither. */
export type KongStore = { database: KongDatabaseEndpoint } | { declarativeConfigPath: string };

/** kong.conf of a node; `loadBalancerAddress` is the global load balancer's; `cluster` for hybrid's nodes. */
export function kongConfFor(config: StackConfig, loadBalancerAddress: string, store: KongStore | {}, cluster?: KongClusterRole): string {
  return renderKongConf({ ...config.kong, adminPort: kongAdminPort, trustedIps: kongTrustedIps(loadBalancerAddress), ...store, cluster });
}

/** The stack's subnets, whose callers Kong's internal routes admit. */
export function internalSources(config: StackConfig): string[] {
  return config.regions.map((r) => r.subnetCidr);
}
