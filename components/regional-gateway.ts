/**
 * RegionalGateway: one region's fleet of VMs running Kong and the microservices: its service
 * account, instance template, regional managed instance group, autohealing and autoscaler.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { RegionPlan } from "../config/validate";
import { rollingUpdatePolicy } from "./update-policy";
import { createWorkloadIdentity, vmSettings } from "./vm";

/** Named port of the groups; the backend service's `portName` must be the same. */
export const proxyPortName = "kong-proxy";

export interface RegionalGatewayArgs {
  prefix: string;
  project: string;
  region: RegionPlan;
  machineType: string;
  image: string;
  bootDiskSizeGb: number;
  subnetwork: pulumi.Input<string>;
  /** Network tag the firewall opens to the load balancer. */
  servingTag: string;
  /** The rendered boot script (startup/startup-script.ts). */
  startupScript: pulumi.Input<string>;
  /** Secrets the VMs read at boot (`projects/…/secrets/…`). */
  secretIds: pulumi.Input<string>[];
  proxyPort: number;
  statusPort: number;
  /** Seconds a first boot may take: autohealing's grace period and the rollout's minReadySec. */
  bootBudgetSec: number;
  labels: Record<string, string>;
  apis: pulumi.Resource[];
}

export class RegionalGateway extends pulumi.ComponentResource {
  public readonly group: gcp.compute.RegionInstanceGroupManager;
  /** The group's instance group URL: a backend of the load balancer. */
  public readonly instanceGroup: pulumi.Output<string>;
  public readonly template: gcp.compute.InstanceTemplate;
  public readonly serviceAccountEmail: pulumi.Output<string>;

  constructor(name: string, args: RegionalGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:gateway:RegionalGateway", name, {}, opts);
    const { prefix, region } = args;
    const account = createWorkloadIdentity(
      name,
      {
        project: args.project,
        accountId: `${prefix}-gw-${region.shortName}`,
        displayName: `Kong gateway VMs in ${region.name}`,
        secretIds: args.secretIds,
      },
      this,
    );
    this.serviceAccountEmail = account.email;

    const vm = vmSettings({
      subnetwork: args.subnetwork,
      serviceAccountEmail: account.email,
      tags: [args.servingTag],
      labels: args.labels,
    });
    // Auto-named from a prefix: a change creates the new template before the old one is deleted.
    this.template = new gcp.compute.InstanceTemplate(
      `${name}-template`,
      {
        namePrefix: `${prefix}-${region.name}-`,
        machineType: args.machineType,
        disks: [{ sourceImage: args.image, diskSizeGb: args.bootDiskSizeGb, diskType: "pd-balanced", boot: true, autoDelete: true }],
        metadataStartupScript: args.startupScript,
        ...vm,
      },
      { parent: this, dependsOn: args.apis },
    );

    // Liveness, not readiness, and slower than the load balancer: a database outage makes every
    // node not-ready at once, and recreating the whole fleet then would turn it into an outage.
    const autohealing = new gcp.compute.HealthCheck(
      `${name}-autoheal`,
      {
        name: `${prefix}-${region.name}-autoheal`,
        checkIntervalSec: 10,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 6,
        httpHealthCheck: { port: args.statusPort, requestPath: "/status" },
      },
      { parent: this, dependsOn: args.apis },
    );

    this.group = new gcp.compute.RegionInstanceGroupManager(
      `${name}-group`,
      {
        name: `${prefix}-${region.name}`,
        baseInstanceName: `${prefix}-${region.name}`,
        region: region.name,
        distributionPolicyZones: region.zones,
        distributionPolicyTargetShape: "EVEN",
        versions: [{ name: "primary", instanceTemplate: this.template.selfLinkUnique }],
        namedPorts: [{ name: proxyPortName, port: args.proxyPort }],
        // Left unset with an autoscaler, which owns the size.
        targetSize: region.size,
        autoHealingPolicies: { healthCheck: autohealing.id, initialDelaySec: args.bootBudgetSec },
        updatePolicy: rollingUpdatePolicy(region.zones.length, args.bootBudgetSec),
      },
      { parent: this },
    );
    this.instanceGroup = this.group.instanceGroup;

    if (region.autoscaling) {
      new gcp.compute.RegionAutoscaler(
        `${name}-autoscaler`,
        {
          name: `${prefix}-${region.name}`,
          region: region.name,
          target: this.group.id,
          autoscalingPolicy: {
            minReplicas: region.autoscaling.minReplicas,
            maxReplicas: region.autoscaling.maxReplicas,
            cooldownPeriod: args.bootBudgetSec,
            cpuUtilization: { target: region.autoscaling.cpuTarget },
          },
        },
        { parent: this },
      );
    }

    this.registerOutputs({
      group: this.group,
      instanceGroup: this.instanceGroup,
      template: this.template,
      serviceAccountEmail: this.serviceAccountEmail,
    });
  }
}
