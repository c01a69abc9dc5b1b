/**
 * InternalLoadBalancer: a regional internal load balancer in front of one tier, at an address
 * reserved beforehand (reserveInternalAddress), so the tier's callers in the same region keep one
 * stable endpoint, and may know it before the tier exists.
 *
 * `passthrough` (TCP, balancing mode CONNECTION) keeps the caller's own address, which Kong's
 * `ip-restriction` on internal routes depends on. `application` (Envoy, HTTP, UTILIZATION) is for
 * a group that is also a backend of the global load balancer: Google rejects an instance group whose
 * backend services use different balancing modes ("backends have incompatible balancing_mode"),
 * and the global one only offers UTILIZATION or RATE for instance groups.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

/** An internal address for a tier's load balancer: `<tierName>-ilb`. */
export function reserveInternalAddress(
  name: string,
  args: { tierName: string; region: string; subnetwork: pulumi.Input<string>; labels: Record<string, string> },
  opts: pulumi.CustomResourceOptions,
): gcp.compute.Address {
  return new gcp.compute.Address(
    name,
    { name: `${args.tierName}-ilb`, region: args.region, addressType: "INTERNAL", subnetwork: args.subnetwork, labels: args.labels },
    opts,
  );
}

export interface InternalLoadBalancerArgs {
  /** Base of the resource names, the tier's name. */
  tierName: string;
  /** Its address (reserveInternalAddress). */
  address: pulumi.Input<string>;
  region: string;
  network: pulumi.Input<string>;
  subnetwork: pulumi.Input<string>;
  /** The tier's instance group. */
  instanceGroup: pulumi.Input<string>;
  port: number;
  /** Answers 200 when a VM can serve. */
  healthCheck: { port: number; path: string };
  kind:
    /** `globalAccess`: callers in every region reach it, not only the load balancer's own region. */
    | { type: "passthrough"; globalAccess?: boolean }
    | {
        type: "application";
        /** The group's named port for `port`. */
        portName: string;
        timeoutSec: number;
        /** The region's proxy-only subnet, which must exist before the forwarding rule. */
        proxySubnet: pulumi.Resource;
      };
  labels: Record<string, string>;
  /** The enabled APIs: the health check uses nothing else that waits for them. */
  apis: pulumi.Resource[];
}

export class InternalLoadBalancer extends pulumi.ComponentResource {
  /** The address callers use. */
  public readonly address: pulumi.Output<string>;

  constructor(name: string, args: InternalLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:loadbalancer:InternalLoadBalancer", name, {}, opts);
    const { kind } = args;
    const resourceName = `${args.tierName}-ilb`;
    const healthCheck = new gcp.compute.RegionHealthCheck(
      `${name}-health`,
      {
        name: resourceName,
        region: args.region,
        checkIntervalSec: 5,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        httpHealthCheck: { port: args.healthCheck.port, requestPath: args.healthCheck.path },
      },
      { parent: this, dependsOn: args.apis },
    );
    const common = { name: resourceName, region: args.region, healthChecks: healthCheck.id, connectionDrainingTimeoutSec: 30 };
    const rule = { name: resourceName, region: args.region, ipAddress: args.address, network: args.network, subnetwork: args.subnetwork, labels: args.labels };
    if (kind.type === "passthrough") {
      const backend = new gcp.compute.RegionBackendService(
        `${name}-backend`,
        {
          ...common,
          loadBalancingScheme: "INTERNAL",
          protocol: "TCP",
          backends: [{ group: args.instanceGroup, balancingMode: "CONNECTION" }],
        },
        { parent: this },
      );
      new gcp.compute.ForwardingRule(
        `${name}-rule`,
        { ...rule, loadBalancingScheme: "INTERNAL", ipProtocol: "TCP", ports: [String(args.port)], backendService: backend.id, allowGlobalAccess: kind.globalAccess ?? false },
        { parent: this },
      );
    } else {
      const backend = new gcp.compute.RegionBackendService(
        `${name}-backend`,
        {
          ...common,
          loadBalancingScheme: "INTERNAL_MANAGED",
          protocol: "HTTP",
          portName: kind.portName,
          timeoutSec: kind.timeoutSec,
          backends: [{ group: args.instanceGroup, balancingMode: "UTILIZATION", capacityScaler: 1 }],
        },
        { parent: this },
      );
      const urlMap = new gcp.compute.RegionUrlMap(`${name}-urlmap`, { name: resourceName, region: args.region, defaultService: backend.id }, { parent: this });
      const proxy = new gcp.compute.RegionTargetHttpProxy(`${name}-proxy`, { name: resourceName, region: args.region, urlMap: urlMap.id }, { parent: this });
      new gcp.compute.ForwardingRule(
        `${name}-rule`,
        { ...rule, loadBalancingScheme: "INTERNAL_MANAGED", ipProtocol: "TCP", portRange: String(args.port), target: proxy.id },
        { parent: this, dependsOn: [kind.proxySubnet] },
      );
    }
    this.address = pulumi.output(args.address);
    this.registerOutputs({ address: this.address });
  }
}
