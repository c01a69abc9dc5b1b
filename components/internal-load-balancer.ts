/**
 * InternalLoadBalancer: a regional internal passthrough load balancer in front of one tier, at a
 * reserved address, so the tier's callers in the same region keep one stable endpoint.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface InternalLoadBalancerArgs {
  /** Base of the resource names, the tier's name. */
  tierName: string;
  region: string;
  network: pulumi.Input<string>;
  subnetwork: pulumi.Input<string>;
  /** The tier's instance group. */
  instanceGroup: pulumi.Input<string>;
  port: number;
  /** Answers 200 when a VM can serve. */
  healthCheck: { port: number; path: string };
  labels: Record<string, string>;
  /** The enabled APIs: the health check uses nothing else that waits for them. */
  apis: pulumi.Resource[];
}

export class InternalLoadBalancer extends pulumi.ComponentResource {
  /** The address callers use. */
  public readonly address: pulumi.Output<string>;

  constructor(name: string, args: InternalLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:loadbalancer:InternalLoadBalancer", name, {}, opts);
    const address = new gcp.compute.Address(
      `${name}-address`,
      { name: `${args.tierName}-ilb`, region: args.region, addressType: "INTERNAL", subnetwork: args.subnetwork, labels: args.labels },
      { parent: this },
    );
    const healthCheck = new gcp.compute.RegionHealthCheck(
      `${name}-health`,
      {
        name: `${args.tierName}-ilb`,
        region: args.region,
        checkIntervalSec: 5,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        httpHealthCheck: { port: args.healthCheck.port, requestPath: args.healthCheck.path },
      },
      { parent: this, dependsOn: args.apis },
    );
    const backend = new gcp.compute.RegionBackendService(
      `${name}-backend`,
      {
        name: `${args.tierName}-ilb`,
        region: args.region,
        loadBalancingScheme: "INTERNAL",
        protocol: "TCP",
        healthChecks: healthCheck.id,
        backends: [{ group: args.instanceGroup, balancingMode: "CONNECTION" }],
        connectionDrainingTimeoutSec: 30,
      },
      { parent: this },
    );
    new gcp.compute.ForwardingRule(
      `${name}-rule`,
      {
        name: `${args.tierName}-ilb`,
        region: args.region,
        loadBalancingScheme: "INTERNAL",
        ipProtocol: "TCP",
        ports: [String(args.port)],
        ipAddress: address.address,
        backendService: backend.id,
        network: args.network,
        subnetwork: args.subnetwork,
        labels: args.labels,
      },
      { parent: this },
    );
    this.address = address.address;
    this.registerOutputs({ address: this.address });
  }
}
