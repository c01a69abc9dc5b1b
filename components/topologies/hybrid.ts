/**
 * hybrid: Kong's own answer for geo-distributed gateways. Control planes hold the database and the
 * Admin API, in a group of the database's primary region; in every region, data planes beside the
 * services hold no database: the control planes push them the configuration over TLS with the
 * stack's cluster certificate, they keep it in LMDB and keep proxying while the control planes are
 * away. A change of Kong's entities reaches every region in seconds without a rollout, and no
 * region's traffic depends on the database.
 */
import * as pulumi from "@pulumi/pulumi";
import { secretResourceName } from "../../config/naming";
import { zonesOf } from "../../config/regions";
import { adminRequests, kongEntities, renderAdminRequests, renderDeclarativeConfig } from "../../startup/kong-entities";
import { controlPlaneTier, KongControlPlanes } from "../kong-control-planes";
import { KongClusterCertificate } from "../kong-cluster-certificate";
import { resourceLabels } from "../labels";
import type { TopologyDefinition } from "./contract";
import { gatewayFleets, gatewayNetwork, gatewayTierRules } from "./gateway-fleets";
import { internalSources, kongConfFor } from "./kong-node";
import { sharedKongDatabase } from "./shared-database";
import { renderVmScript, serviceSecretIds } from "./vm-scripts";

export const hybrid: TopologyDefinition = {
  rules: {
    ...gatewayTierRules,
    // The control planes' group, beside the data planes' in the database's region.
    tiers: () => [{ path: ["prefix"] }, { tier: controlPlaneTier, path: ["prefix"] }],
    // The control planes' load balancer takes an address of the database region's subnet.
    internalLoadBalancersPerRegion: () => 1,
    options: ["database", "controlPlanes"],
    otherPorts: [],
    check(parsed, regions, err) {
      const region = parsed.database.regions?.[0] ?? regions[0]?.name;
      const plan = regions.find((r) => r.name === region);
      if (plan && plan.zones.length < 2) {
        err(["regions", region, "zones"], `hybrid's control planes run in ${region}, the database's primary region: give it at least two zones (${zonesOf(region).join(", ")}), so one zone's loss leaves a control plane`);
      }
    },
  },
  network: gatewayNetwork,
  build(context) {
    const { name, parent, config, network } = context;
    const settings = config.database!;
    const stack = pulumi.getStack();
    const certificate = new KongClusterCertificate(`${name}-cluster`, { prefix: config.prefix, labels: resourceLabels(stack, "kong-cluster"), apis: network.apis }, { parent });
    const keySecret = certificate.keySecret.secretId.apply((id) => secretResourceName(config.project, id));
    const cluster = pulumi.all([certificate.certificate, keySecret]).apply(([cert, key]) => ({ certificate: cert, keySecret: key }));
    const shared = sharedKongDatabase(context, cluster);
    const databaseRegion = config.regions.find((r) => r.name === settings.region)!;
    const controlPlanes = new KongControlPlanes(
      `${name}-control-planes`,
      {
        prefix: config.prefix,
        region: { ...databaseRegion, size: config.controlPlanes.size, autoscaling: undefined },
        tier: { ...context.tier, machineType: config.controlPlanes.machineType, labels: resourceLabels(stack, "kong-control-planes") },
        network: network.network.id,
        subnetwork: network.subnets[settings.region].selfLink,
        dataPlaneSources: internalSources(config),
        startupScript: shared.controlPlaneScript(settings.region),
        secretIds: [shared.passwordSecretId, keySecret],
        statusPort: config.kong.statusPort,
      },
      { parent },
    );
    const entities = kongEntities(config.services, { internalSources: internalSources(config) });
    const fallbackConfig = renderDeclarativeConfig(entities);
    const dataPlaneConf = pulumi
      .all([context.loadBalancerAddress, controlPlanes.endpoint])
      .apply(([address, endpoint]) => kongConfFor(config, address, {}, { role: "data_plane", controlPlane: endpoint }));
    const fleets = gatewayFleets(context, {
      script: (region, services, kongUrl) =>
        pulumi
          .all([dataPlaneConf, cluster, context.artifacts])
          .apply(([conf, files, artifacts]) => renderVmScript(config, "gateway", region, services, kongUrl, artifacts, { conf, cluster: files, mode: { kind: "data-plane", fallbackConfig } })),
      secretIds: [keySecret, ...serviceSecretIds(config, config.services)],
    });
    const migrator = shared.migrate(renderAdminRequests(adminRequests(entities)));
    return {
      ...fleets,
      groups: { ...fleets.groups, [settings.region]: [...fleets.groups[settings.region], controlPlanes.tier.group.name] },
      deployCheck: { ...fleets.deployCheck, rollouts: [migrator, { resource: controlPlanes.tier, id: controlPlanes.tier.template.id }, ...fleets.deployCheck.rollouts] },
      database: shared.outputs,
    };
  },
};
