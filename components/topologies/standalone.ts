/**
 * standalone: the design's option 2. In each region a Kong tier and a tier per service, each its
 * own group behind a regional internal load balancer; the global load balancer fronts the entry
 * service's tier directly. Services call their region's Kong, whose regional routes (such as
 * `/api/us/east/upload`) forward only to that region's tiers. Kong's entities are in the shared
 * Cloud SQL, written by the migrator.
 */
import * as pulumi from "@pulumi/pulumi";
import { tierAccountId, tierName } from "../../config/naming";
import type { ServiceConfig } from "../../config/schema";
import type { RegionPlan } from "../../config/stack-config";
import { behindGoogleLoadBalancer } from "../../config/messenger";
import { loadBalancerKeepaliveSec } from "../../startup/kong-conf";
import { adminRequests, regionalKongEntities, RegionalEndpoints, renderAdminRequests, renderDeclarativeConfig } from "../../startup/kong-entities";
import { InternalLoadBalancer, InternalLoadBalancerArgs, reserveInternalAddress } from "../internal-load-balancer";
import { resourceLabels } from "../labels";
import { RegionalTier, RegionalTierArgs, SharedTierArgs } from "../regional-tier";
import type { ArtifactReads } from "../vm";
import type { TopologyDefinition } from "./contract";
import { internalSources, kongHealth, kongProxyPortName } from "./kong-node";
import { sharedKongDatabase } from "./shared-database";
import { renderVmScript, serviceSecretIds } from "./vm-scripts";

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
  serviceScript: (service: ServiceConfig, kongUrl: string) => pulumi.Output<string>;
  /** Secrets a service tier reads. */
  serviceSecretIds: (service: ServiceConfig) => string[];
  /** The builder's artifact a service tier downloads. */
  serviceArtifactReads: (service: ServiceConfig) => ArtifactReads | undefined;
}

/** One region of standalone: its Kong tier and service tiers, each behind an internal load balancer. */
export class StandaloneRegion extends pulumi.ComponentResource {
  public readonly kongAddress: pulumi.Output<string>;
  /** Internal load balancer address of each service tier, by service name. */
  public readonly serviceAddresses: Record<string, pulumi.Output<string>>;
  /** Every tier, the Kong tier first. */
  public readonly tiers: Record<string, RegionalTier>;

  constructor(name: string, args: StandaloneRegionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:standalone:StandaloneRegion", name, {}, opts);
    const { prefix, region } = args;
    const tier = (role: string, description: string, extra: Pick<RegionalTierArgs, "startupScript" | "secretIds" | "namedPorts" | "autohealing" | "artifactReads">) =>
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
        artifactReads: args.serviceArtifactReads(service),
        namedPorts: [{ name: service.name, port: service.port }],
        autohealing: health,
      });
      this.tiers[service.name] = serviceTier;
      ilb(service.name, serviceTier, service.port, health, serviceAddresses[service.name]);
    }
    this.registerOutputs({ kongAddress: this.kongAddress, serviceAddresses: this.serviceAddresses, tiers: this.tiers });
  }
}

/** A region's Kong routes: its route prefix and its service tiers' addresses. */
function regionalEndpoints(region: RegionPlan, serviceAddresses: Record<string, string>): RegionalEndpoints {
  return { region: region.name, routePrefix: region.routePrefix, shortName: region.shortName, serviceAddresses };
}

export const standalone: TopologyDefinition = {
  rules: {
    options: ["database", "entryService", "regions.routePrefix"],
    tiers: (parsed) => [{ tier: "kong", path: ["prefix"] }, ...parsed.services.map((s, i) => ({ tier: s.name, path: ["services", i, "name"] }))],
    internalLoadBalancersPerRegion: (parsed) => 1 + parsed.services.length,
    proxySubnets: true,
    frontedByKong: false,
    otherPorts: [],
    check(parsed, regions, err) {
      parsed.services.forEach((service, i) => {
        if (service.name === "kong") err(["services", i, "name"], `"kong" names standalone's Kong tier; choose another service name`);
      });
      const entryIndex = parsed.services.findIndex((s) => s.name === (parsed.entryService ?? parsed.services[0]?.name));
      parsed.services[entryIndex]?.routes.forEach((route, r) => {
        if (route.internal) {
          err(["services", entryIndex, "routes", r, "internal"], `the entry service ${parsed.services[entryIndex].name} faces the global load balancer directly, which would serve this VPC-only route without Kong's ip-restriction; make another service the entryService, or move the route`);
        }
      });
      const owners = new Map<string, string>();
      for (const region of regions) {
        const owner = owners.get(region.routePrefix);
        if (owner) err(["regions", region.name, "routePrefix"], `"${region.routePrefix}" is also ${owner}'s route prefix; set a distinct routePrefix`);
        owners.set(region.routePrefix, region.name);
      }
    },
  },
  network(config) {
    // The global load balancer reaches the entry tier; internal load balancers and their health
    // checks (from the same Google ranges) reach every tier. Kong's status listener is on loopback.
    const ports = [config.kong.proxyPort, ...config.services.map((s) => s.port)];
    return {
      loadBalancerPorts: ports,
      internalPorts: ports,
      proxySubnets: { ranges: Object.fromEntries(config.regions.map((r) => [r.name, r.proxySubnetCidr!])), ports: [config.entryService.port] },
    };
  },
  build(context) {
    const { name, parent, config, network } = context;
    const { entryService, pictures } = config;
    const shared = sharedKongDatabase(context);
    const regions = config.regions.map((region) => ({
      region,
      standalone: new StandaloneRegion(
        `${name}-${region.name}`,
        {
          prefix: config.prefix,
          region,
          tier: { ...context.tier, labels: resourceLabels(pulumi.getStack(), "standalone-region") },
          network: network.network.id,
          subnetwork: network.subnets[region.name].selfLink,
          services: config.services,
          entryService: entryService.name,
          proxySubnet: network.proxySubnets[region.name],
          timeoutSec: config.loadBalancer.timeoutSec,
          proxyPort: config.kong.proxyPort,
          // Without its database at boot, the Kong tier starts from its own region's routes.
          kongScript: (serviceAddresses) =>
            shared.nodeScript(
              "kong-tier",
              region.name,
              [],
              "",
              pulumi
                .all(serviceAddresses)
                .apply((addresses) => renderDeclarativeConfig(regionalKongEntities(config.services, [regionalEndpoints(region, addresses)], { internalSources: internalSources(config) }))),
            ),
          kongSecretIds: [shared.passwordSecretId],
          serviceScript: (service, kongUrl) =>
            context.artifacts.apply((artifacts) =>
              renderVmScript(config, "service-tier", region.name, [service.name === entryService.name ? behindGoogleLoadBalancer(service, loadBalancerKeepaliveSec) : service], kongUrl, artifacts),
            ),
          serviceSecretIds: (service) => serviceSecretIds(config, [service]),
          serviceArtifactReads: (service) => context.artifactReads([service.name]),
        },
        { parent },
      ),
    }));
    const entities = pulumi
      .all(regions.map(({ standalone }) => pulumi.all(standalone.serviceAddresses)))
      .apply((addresses) =>
        renderAdminRequests(
          adminRequests(
            regionalKongEntities(
              config.services,
              regions.map(({ region }, i) => regionalEndpoints(region, addresses[i])),
              { internalSources: internalSources(config) },
            ),
          ),
        ),
      );
    const migrator = shared.migrate(entities);
    const tiers = regions.flatMap(({ standalone }) => Object.values(standalone.tiers));
    return {
      loadBalancer: {
        backends: Object.fromEntries(regions.map(({ region, standalone }) => [region.name, standalone.tiers[entryService.name].instanceGroup])),
        portName: entryService.name,
        // The load balancer fronts the entry service itself.
        healthCheck: { port: entryService.port, path: entryService.healthPath },
      },
      groups: Object.fromEntries(regions.map(({ region, standalone }) => [region.name, Object.values(standalone.tiers).map((t) => t.group.name)])),
      deployCheck: {
        probes: [{ method: "GET", path: entryService.healthPath, throughKong: false }],
        rollouts: [migrator, ...tiers.map((tier) => ({ resource: tier, id: tier.template.id }))],
      },
      pictureWriters: pictures ? regions.map(({ standalone }) => standalone.tiers[pictures.service.name].serviceAccountEmail) : [],
      database: shared.outputs,
    };
  },
};
