/**
 * The gateway layout of the topologies with Kong beside the services (sidecar, shared-db, dbless):
 * in each region one tier whose every VM runs Kong and every service, a backend of the global
 * load balancer, checked on Kong's health route, and deploy-checked on every public route. Each
 * gateway topology says where its Kong's configuration comes from.
 */
import * as pulumi from "@pulumi/pulumi";
import { tierAccountId, tierName } from "../../config/naming";
import type { ServiceConfig } from "../../config/schema";
import type { StackConfig } from "../../config/stack-config";
import type { TopologyRules } from "../../config/topology-rules";
import { resourceLabels } from "../labels";
import { RegionalTier } from "../regional-tier";
import type { KongMode } from "../../startup/boot-input";
import type { FleetContext, FleetLayout, NetworkNeeds } from "./contract";
import { kongConfFor, kongHealth, kongProxyPortName, KongStore } from "./kong-node";
import { renderVmScript, serviceSecretIds } from "./vm-scripts";

/** The rules of every gateway topology: one tier per region, no internal load balancer. */
export const gatewayTierRules: Pick<TopologyRules, "tiers" | "internalLoadBalancersPerRegion" | "proxySubnets" | "frontedByKong"> = {
  tiers: () => [{ path: ["prefix"] }],
  internalLoadBalancersPerRegion: () => 0,
  proxySubnets: false,
  frontedByKong: true,
};

/** Kong's proxy, which Google's front ends and health checkers reach, and the stack's subnets too. */
export function gatewayNetwork(config: StackConfig): NetworkNeeds {
  return { loadBalancerPorts: [config.kong.proxyPort], internalPorts: [config.kong.proxyPort] };
}

export interface GatewayVms {
  /** A region's boot script, given the services and the URL of Kong on the VM itself. */
  script(region: string, services: ServiceConfig[], kongUrl: string): pulumi.Input<string>;
  /** Secrets every VM reads at boot. */
  secretIds: pulumi.Input<string>[];
}

export function gatewayFleets(context: FleetContext, vms: GatewayVms): FleetLayout {
  const { name, parent, config, network } = context;
  const kongUrl = `http://127.0.0.1:${config.kong.proxyPort}`;
  const tiers = config.regions.map(
    (region) =>
      new RegionalTier(
        `${name}-${region.name}`,
        {
          ...context.tier,
          tierName: tierName(config.prefix, region.name),
          accountId: tierAccountId(config.prefix, region.name),
          description: "Kong and the microservices",
          region,
          subnetwork: network.subnets[region.name].selfLink,
          startupScript: vms.script(region.name, config.services, kongUrl),
          secretIds: vms.secretIds,
          artifactReads: context.artifactReads(config.services.map((s) => s.name)),
          namedPorts: [{ name: kongProxyPortName, port: config.kong.proxyPort }],
          autohealing: kongHealth(config.kong.proxyPort),
          labels: resourceLabels(pulumi.getStack(), "regional-tier"),
        },
        { parent },
      ),
  );
  return {
    loadBalancer: {
      backends: Object.fromEntries(config.regions.map((region, i) => [region.name, tiers[i].instanceGroup])),
      portName: kongProxyPortName,
      healthCheck: kongHealth(config.kong.proxyPort),
    },
    groups: Object.fromEntries(config.regions.map((region, i) => [region.name, [tiers[i].group.name]])),
    deployCheck: {
      probes: config.services.flatMap((s) =>
        s.routes.filter((r) => !r.internal).map((r) => ({ method: r.methods?.[0] ?? "GET", path: r.paths[0], throughKong: true })),
      ),
      rollouts: tiers.map((tier) => ({ resource: tier, id: tier.template.id })),
    },
    pictureWriters: config.pictures ? tiers.map((tier) => tier.serviceAccountEmail) : [],
  };
}

/** Gateways whose Kong needs nothing outside its VM: sidecar's own PostgreSQL, dbless's file. */
export function selfContainedGatewayFleets(context: FleetContext, store: KongStore, mode: KongMode): FleetLayout {
  const { config } = context;
  return gatewayFleets(context, {
    script: (region, services, kongUrl) =>
      pulumi
        .all([context.loadBalancerAddress, context.artifacts])
        .apply(([address, artifacts]) => renderVmScript(config, "gateway", region, services, kongUrl, artifacts, { conf: kongConfFor(config, address, store), mode })),
    secretIds: serviceSecretIds(config, config.services),
  });
}
