/**
 * KongControlPlanes: hybrid mode's control planes, a group in the database's primary region behind
 * an internal passthrough Network Load Balancer with global access, so data planes in every region
 * reach them at one address. Passthrough, not a proxy: the data plane's client certificate is the
 * control plane's whole check (kong/clustering/tls.lua), and a TLS-terminating proxy would replace it.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { googleFrontEndRanges } from "../config/google-ranges";
import { tierAccountId, tierName } from "../config/naming";
import type { RegionPlan } from "../config/stack-config";
import { kongClusterPort } from "../config/vm-contract";
import { InternalLoadBalancer, reserveInternalAddress } from "./internal-load-balancer";
import { RegionalTier, SharedTierArgs } from "./regional-tier";

/** The control planes' tier in names (`geo-us-central1-cp`), which validation checks too. */
export const controlPlaneTier = "cp";

export interface KongControlPlanesArgs {
  prefix: string;
  /** The database's primary region, with the group's size. */
  region: RegionPlan;
  tier: SharedTierArgs;
  network: pulumi.Input<string>;
  subnetwork: pulumi.Input<string>;
  /** The stack's subnets: the only sources that reach the cluster port. */
  dataPlaneSources: string[];
  /** The rendered boot script with role `control-plane`. */
  startupScript: pulumi.Input<string>;
  /** The database password's and the cluster key's secrets. */
  secretIds: pulumi.Input<string>[];
  statusPort: number;
}

export class KongControlPlanes extends pulumi.ComponentResource {
  /** `host:port` that data planes of every region connect to (`cluster_control_plane`). */
  public readonly endpoint: pulumi.Output<string>;
  public readonly tier: RegionalTier;

  constructor(name: string, args: KongControlPlanesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:kong:KongControlPlanes", name, {}, opts);
    const { prefix, region } = args;
    const cpTierName = tierName(prefix, region.name, controlPlaneTier);
    const tag = `${prefix}-kong-cp`;
    const address = reserveInternalAddress(
      `${name}-ilb-address`,
      { tierName: cpTierName, region: region.name, subnetwork: args.subnetwork, labels: args.tier.labels },
      { parent: this },
    );
    this.tier = new RegionalTier(
      `${name}-tier`,
      {
        ...args.tier,
        // Only the firewall rules below reach them: they serve no load balancer of users.
        tags: [tag],
        tierName: cpTierName,
        accountId: tierAccountId(prefix, region.name, controlPlaneTier),
        description: "Kong's control planes",
        region,
        subnetwork: args.subnetwork,
        startupScript: args.startupScript,
        secretIds: args.secretIds,
        namedPorts: [],
        // Liveness: `/status` answers 200 whether the database does or not (kong/api/routes/health.lua),
        // so the database's outage does not recreate the group.
        autohealing: { port: args.statusPort, path: "/status" },
      },
      { parent: this },
    );
    new InternalLoadBalancer(
      `${name}-ilb`,
      {
        tierName: cpTierName,
        address: address.address,
        region: region.name,
        network: args.network,
        subnetwork: args.subnetwork,
        instanceGroup: this.tier.instanceGroup,
        port: kongClusterPort,
        // Ready: its database answers (kong/status/ready.lua), so it can build the configuration it pushes.
        healthCheck: { port: args.statusPort, path: "/status/ready" },
        kind: { type: "passthrough", globalAccess: true },
        labels: args.tier.labels,
        apis: args.tier.apis,
      },
      { parent: this },
    );
    const firewall = (rule: string, description: string, sourceRanges: string[], port: number) =>
      new gcp.compute.Firewall(
        `${name}-${rule}`,
        {
          name: `${prefix}-${rule}`,
          description,
          network: args.network,
          direction: "INGRESS",
          sourceRanges,
          targetTags: [tag],
          allows: [{ protocol: "tcp", ports: [String(port)] }],
        },
        { parent: this },
      );
    // A passthrough load balancer keeps the caller's address: the rule sees the data planes' subnets.
    firewall("allow-kong-cluster", "Kong's data planes, from the stack's subnets only, to the control planes' cluster port", args.dataPlaneSources, kongClusterPort);
    firewall("allow-kong-cp-checks", "Google's health checkers to the control planes' status listener", [...googleFrontEndRanges], args.statusPort);
    this.endpoint = pulumi.interpolate`${address.address}:${kongClusterPort}`;
    this.registerOutputs({ endpoint: this.endpoint, tier: this.tier });
  }
}
