/**
 * StandaloneRegion: the design's option 2 in one region: a Kong tier and a tier per microservice,
 * each in its own group behind a regional internal load balancer. Services call their region's
 * Kong, whose regional routes forward only to this region's tiers.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ServiceConfig } from "../config/schema";
import { tierAccountId, tierName } from "../config/naming";
import type { RegionPlan } from "../config/validate";
import { InternalLoadBalancer, InternalLoadBalancerArgs, reserveInternalAddress } from "./internal-load-balancer";
import { RegionalTier, RegionalTierArgs } from "./regional-tier";
import { kongHealth, kongProxyPortName } from "./topology";

/** The tier settings every tier of the stack shares. */
export type SharedTierArgs = Pick<
  RegionalTierArgs,
  "project" | "machineType" | "image" | "bootDiskSizeGb" | "tags" | "bootBudgetSec" | "labels" | "apis"
>;

export interface StandaloneRegionArgs {
  prefix: string;
  region: RegionPlan;
  tier: SharedTierArgs;
  network: pulumi.Input<string>;
  subnetwork: pulumi.Input<string>;
  services: ServiceConfig[];
  /** The service whose tier is a backend of the global load balancer. */
  entryService: string;
  /** The region's proxy-only subnet, for the entry tier's internal Application Load Balancer. */
  proxySubnet: pulumi.Resource;
  /** The global load balancer's backend timeout, which the entry tier's internal one keeps. */
  timeoutSec: number;
  proxyPort: number;
  /** The Kong tier's boot script, given the address of each service tier's internal load balancer. */
  kongScript: (serviceAddresses: Record<string, pulumi.Output<string>>) => pulumi.Input<string>;
  /** Secrets the Kong tier reads (the database password). */
  kongSecretIds: pulumi.Input<string>[];
  /** A service tier's boot script, given the URL of this region's Kong with its route prefix. */
  serviceScript: (service: ServiceConfig, kongUrl: string) => string;
  /** Secrets a service tier reads. */
  serviceSecretIds: (service: ServiceConfig) => string[];
}

export class StandaloneRegion extends pulumi.ComponentResource {
  public readonly kongAddress: pulumi.Output<string>;
  /** Internal load balancer address of each service tier, by service name. */
  public readonly serviceAddresses: Record<string, pulumi.Output<string>>;
  /** Every tier, the Kong tier first. */
  public readonly tiers: Record<string, RegionalTier>;

  constructor(name: string, args: StandaloneRegionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:standalone:StandaloneRegion", name, {}, opts);
    const { prefix, region } = args;
    const tier = (role: string, description: string, extra: Pick<RegionalTierArgs, "startupScript" | "secretIds" | "namedPorts" | "autohealing">) =>
      new RegionalTier(
        `${name}-${role}`,
        {
          ...args.tier,
          ...extra,
          tierName: tierName(prefix, region.name, role),
          accountId: tierAccountId(prefix, region.name, role),
          description,
          region,
          subnetwork: args.subnetwork,
        },
        { parent: this },
      );
    // Reserved first: the Kong tier's fallback config names the service tiers' addresses.
    const address = (role: string) =>
      reserveInternalAddress(
        `${name}-${role}-ilb-address`,
        { tierName: tierName(prefix, region.name, role), region: region.name, subnetwork: args.subnetwork, labels: args.tier.labels },
        { parent: this },
      ).address;
    const ilb = (role: string, group: RegionalTier, port: number, healthCheck: { port: number; path: string }, reserved: pulumi.Output<string>) => {
      // The entry tier's group is also a backend of the global load balancer (UTILIZATION), so its
      // internal one must balance by the same mode; every other tier keeps its callers' addresses.
      const kind: InternalLoadBalancerArgs["kind"] =
        role === args.entryService
          ? { type: "application", portName: role, timeoutSec: args.timeoutSec, proxySubnet: args.proxySubnet }
          : { type: "passthrough" };
      return new InternalLoadBalancer(
        `${name}-${role}-ilb`,
        {
          tierName: tierName(prefix, region.name, role),
          address: reserved,
          region: region.name,
          network: args.network,
          subnetwork: args.subnetwork,
          instanceGroup: group.instanceGroup,
          port,
          healthCheck,
          kind,
          labels: args.tier.labels,
          apis: args.tier.apis,
        },
        { parent: this },
      );
    };

    const serviceAddresses = Object.fromEntries(args.services.map((service) => [service.name, address(service.name)]));
    const health = kongHealth(args.proxyPort);
    const kong = tier("kong", "Kong tier", {
      startupScript: args.kongScript(serviceAddresses),
      secretIds: args.kongSecretIds,
      namedPorts: [{ name: kongProxyPortName, port: args.proxyPort }],
      autohealing: health,
    });
    this.kongAddress = ilb("kong", kong, args.proxyPort, health, address("kong")).address;
    this.tiers = { kong };
    this.serviceAddresses = serviceAddresses;
    for (const service of args.services) {
      const health = { port: service.port, path: service.healthPath };
      const serviceTier = tier(service.name, `${service.name} tier`, {
        startupScript: this.kongAddress.apply((address) =>
          args.serviceScript(service, `http://${address}:${args.proxyPort}${region.routePrefix}`),
        ),
        secretIds: args.serviceSecretIds(service),
        namedPorts: [{ name: service.name, port: service.port }],
        autohealing: health,
      });
      this.tiers[service.name] = serviceTier;
      ilb(service.name, serviceTier, service.port, health, serviceAddresses[service.name]);
    }
    this.registerOutputs({ kongAddress: this.kongAddress, serviceAddresses: this.serviceAddresses, tiers: this.tiers });
  }
}
