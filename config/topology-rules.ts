/**
 * What validation must know of a topology. Each topology's own file (components/topologies/)
 * holds its rules; validation takes them as an argument, so this floor imports nothing above it.
 */
import type { Report } from "./field-path";
import type { ParsedStackConfig, Topology } from "./schema";
import type { RegionPlan } from "./stack-config";

/**
 * Settings only some topologies accept; a stack of any other topology that sets one is rejected.
 * `database`: Kong keeps its entities in the stack's Cloud SQL, which validation then resolves.
 * `controlPlanes`: hybrid's control-plane group.
 */
export type TopologyOption = "database" | "controlPlanes" | "entryService" | "regions.routePrefix";

/** A tier of each region: the part its names add (none for a region's one tier), and the setting blamed when a name is too long. */
export interface TierOfRegion {
  tier?: string;
  path: PropertyKey[];
}

export interface TopologyRules {
  options: readonly TopologyOption[];
  /** The tiers (groups) of each region. */
  tiers(parsed: ParsedStackConfig): TierOfRegion[];
  /** Internal load balancers per region, each holding an address of the region's subnet. */
  internalLoadBalancersPerRegion(parsed: ParsedStackConfig): number;
  /** Whether the global load balancer sends users to Kong (standalone's fronts its entry service directly). */
  frontedByKong: boolean;
  /** Whether each region needs a proxy-only subnet from `network.proxySubnetPool`. */
  proxySubnets: boolean;
  /** Ports its VMs take besides Kong's listeners; a service on one is blamed on `topology`. */
  otherPorts: { port: number; owner: string }[];
  /** The topology's own checks of a parsed config. */
  check(parsed: ParsedStackConfig, regions: RegionPlan[], err: Report): void;
}

/** Every topology of the schema's list, with its rules. */
export type TopologyCatalog = Record<Topology, TopologyRules>;
