/** Network: VPC, a subnet per region, Cloud NAT, firewall rules, private services access and the APIs. */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { googleFrontEndRanges, iapRange } from "../config/google-ranges";

export interface NetworkArgs {
  /** Prefix of every resource name. */
  prefix: string;
  /** Subnet range of each region, keyed by region name. */
  subnets: Record<string, string>;
  /** Network tag of the VMs that serve load balancers. */
  servingTag: string;
  /** Ports Google's load balancers and health checkers reach on serving VMs, and nothing else. */
  loadBalancerPorts: number[];
  /** Ports the stack's own subnets reach on serving VMs (Kong's proxy, standalone's tiers). */
  internalPorts: number[];
  /**
   * Proxy-only subnet of each region (keyed by region name) with the ports those proxies reach:
   * regional Envoy-based load balancers (standalone's entry tier). @default none
   */
  proxySubnets?: { ranges: Record<string, string>; ports: number[] };
  /** Range peered to Google's producer network for Cloud SQL. @default none - no peering */
  privateServicesRange?: string;
  /** VPC flow logs of every subnet. */
  flowLogs: { enabled: boolean; sampling: number; metadata: string };
  /** APIs beyond the base ones that the stack uses: `storage` for a bucket, `certificatemanager` for HTTPS. */
  extraApis: string[];
  /** Labels of the resources that take them. */
  labels: Record<string, string>;
}

// cloudresourcemanager: project IAM bindings go through it.
const baseApis = ["cloudresourcemanager", "compute", "iam", "logging", "monitoring", "secretmanager"];
const databaseApis = ["servicenetworking", "sqladmin"];

export class Network extends pulumi.ComponentResource {
  public readonly network: gcp.compute.Network;
  /** Keyed by region name. */
  public readonly subnets: Record<string, gcp.compute.Subnetwork>;
  /** The enabled APIs; resources of other components depend on them. */
  public readonly apis: gcp.projects.Service[];
  /** Keyed by region name; empty without `proxySubnets`. */
  public readonly proxySubnets: Record<string, gcp.compute.Subnetwork> = {};
  /** Each region's Cloud NAT, by region name: the way out to repositories and package mirrors. */
  public readonly nats: Record<string, gcp.compute.RouterNat> = {};
  /** The peering Cloud SQL's private IP needs; undefined without `privateServicesRange`. */
  public readonly privateServicesConnection?: gcp.servicenetworking.Connection;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:network:Network", name, {}, opts);
    const { prefix } = args;
    const apiNames = [...baseApis, ...(args.privateServicesRange ? databaseApis : []), ...args.extraApis];
    this.apis = apiNames.map(
      (api) =>
        new gcp.projects.Service(`${name}-api-${api}`, { service: `${api}.googleapis.com`, disableOnDestroy: false }, { parent: this }),
    );
    const afterApis = { parent: this, dependsOn: this.apis };

    this.network = new gcp.compute.Network(
      `${name}-vpc`,
      { name: `${prefix}-vpc`, autoCreateSubnetworks: false, routingMode: "GLOBAL" },
      afterApis,
    );
    this.subnets = Object.fromEntries(Object.entries(args.subnets).map(([region, cidr]) => [region, this.addRegion(name, args, region, cidr)]));

    for (const [region, cidr] of Object.entries(args.proxySubnets?.ranges ?? {})) {
      // Envoy proxies of the region's managed load balancers connect to backends from here.
      this.proxySubnets[region] = new gcp.compute.Subnetwork(
        `${name}-${region}-proxy`,
        { name: `${prefix}-${region}-proxy`, region, network: this.network.id, ipCidrRange: cidr, purpose: "REGIONAL_MANAGED_PROXY", role: "ACTIVE" },
        { parent: this },
      );
    }

    this.addFirewalls(name, args);

    if (args.privateServicesRange) {
      const [address, prefixLength] = args.privateServicesRange.split("/");
      const range = new gcp.compute.GlobalAddress(
        `${name}-private-services`,
        {
          name: `${prefix}-private-services`,
          purpose: "VPC_PEERING",
          addressType: "INTERNAL",
          address,
          prefixLength: Number(prefixLength),
          network: this.network.id,
          labels: args.labels,
        },
        { parent: this },
      );
      this.privateServicesConnection = new gcp.servicenetworking.Connection(
        `${name}-private-services`,
        // ABANDON: deleting the connection fails while Cloud SQL, deleted moments before, still holds
        // the peering; the provider documents ABANDON as the way to let a destroy finish.
        { network: this.network.id, service: "servicenetworking.googleapis.com", reservedPeeringRanges: [range.name], deletionPolicy: "ABANDON" },
        afterApis,
      );
    }

    this.registerOutputs({
      network: this.network,
      subnets: this.subnets,
      proxySubnets: this.proxySubnets,
      apis: this.apis,
      privateServicesConnection: this.privateServicesConnection,
    });
  }

  /** A region's subnet, and the router and Cloud NAT its VMs reach the internet through. */
  private addRegion(name: string, args: NetworkArgs, region: string, cidr: string): gcp.compute.Subnetwork {
    const { prefix } = args;
    const subnet = new gcp.compute.Subnetwork(
      `${name}-${region}`,
      {
        name: `${prefix}-${region}`,
        region,
        network: this.network.id,
        ipCidrRange: cidr,
        privateIpGoogleAccess: true,
        ...(args.flowLogs.enabled
          ? { logConfig: { aggregationInterval: "INTERVAL_5_SEC", flowSampling: args.flowLogs.sampling, metadata: args.flowLogs.metadata } }
          : {}),
      },
      { parent: this },
    );
    const router = new gcp.compute.Router(
      `${name}-${region}-router`,
      { name: `${prefix}-${region}-router`, region, network: this.network.id },
      { parent: this },
    );
    // VMs have no external address; NAT is their way to package repositories.
    this.nats[region] = new gcp.compute.RouterNat(
      `${name}-${region}-nat`,
      {
        name: `${prefix}-${region}-nat`,
        region,
        router: router.name,
        natIpAllocateOption: "AUTO_ONLY",
        sourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES",
        logConfig: { enable: true, filter: "ERRORS_ONLY" },
      },
      { parent: this },
    );
    return subnet;
  }

  /** Ingress: Google's load balancers to the serving ports, SSH through IAP, the stack's subnets, regional proxies. */
  private addFirewalls(name: string, args: NetworkArgs): void {
    const { prefix } = args;
    const firewall = (role: string, rule: Omit<gcp.compute.FirewallArgs, "network" | "name">) =>
      new gcp.compute.Firewall(`${name}-${role}`, { name: `${prefix}-${role}`, network: this.network.id, ...rule }, { parent: this });
    firewall("allow-lb", {
      description: "Google's load balancers and health checkers to the serving ports only",
      direction: "INGRESS",
      sourceRanges: [...googleFrontEndRanges],
      targetTags: [args.servingTag],
      allows: [{ protocol: "tcp", ports: args.loadBalancerPorts.map(String) }],
    });
    firewall("allow-iap-ssh", {
      description: "SSH through Identity-Aware Proxy only",
      direction: "INGRESS",
      sourceRanges: [iapRange],
      allows: [{ protocol: "tcp", ports: ["22"] }],
    });
    firewall("allow-internal", {
      description: "The serving ports and ICMP between the stack's own subnets",
      direction: "INGRESS",
      sourceRanges: Object.values(args.subnets),
      targetTags: [args.servingTag],
      allows: [{ protocol: "tcp", ports: args.internalPorts.map(String) }, { protocol: "icmp" }],
    });

    if (args.proxySubnets) {
      firewall("allow-proxies", {
        description: "Regional load balancers' proxies to the ports they serve",
        direction: "INGRESS",
        sourceRanges: Object.values(args.proxySubnets.ranges),
        targetTags: [args.servingTag],
        allows: [{ protocol: "tcp", ports: args.proxySubnets.ports.map(String) }],
      });
    }
  }
}
