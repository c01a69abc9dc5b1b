/**
 * RegionalTier: a fleet of identical VMs in one region: its service account, instance template,
 * regional managed instance group over the region's zones, autohealing and optional autoscaler.
 * A gateway fleet (Kong and every service on each VM) is one tier; standalone has several.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { RegionPlan } from "../config/stack-config";
import { rollingUpdatePolicy } from "./update-policy";
import { ArtifactReads, createWorkloadIdentity, vmSettings } from "./vm";

export interface NamedPort {
  name: string;
  port: number;
}

export interface RegionalTierArgs {
  /** Base of the group's and template's names (config/naming.ts). */
  tierName: string;
  /** The tier's service account id (config/naming.ts). */
  accountId: string;
  /** What runs on the VMs, for the service account's display name. */
  description: string;
  project: string;
  region: RegionPlan;
  machineType: string;
  image: string;
  bootDiskSizeGb: number;
  subnetwork: pulumi.Input<string>;
  /** Network tags the firewall rules select. */
  tags: string[];
  /** The rendered boot script (startup/startup-script.ts). */
  startupScript: pulumi.Input<string>;
  /** Secrets the VMs read at boot (`projects/…/secrets/…`). */
  secretIds: pulumi.Input<string>[];
  /** The builder's artifacts the VMs download at boot. */
  artifactReads?: ArtifactReads;
  namedPorts: NamedPort[];
  /** Liveness check that autohealing uses: slower than any load balancer's. */
  autohealing: { port: number; path: string };
  /** Seconds a first boot may take: autohealing's grace period and the rollout's minReadySec. */
  bootBudgetSec: number;
  labels: Record<string, string>;
  apis: pulumi.Resource[];
}

/** The tier settings every tier of the stack shares. */
export type SharedTierArgs = Pick<RegionalTierArgs, "project" | "machineType" | "image" | "bootDiskSizeGb" | "tags" | "bootBudgetSec" | "labels" | "apis">;

export class RegionalTier extends pulumi.ComponentResource {
  public readonly group: gcp.compute.RegionInstanceGroupManager;
  /** The group's instance group URL: a backend of a load balancer. */
  public readonly instanceGroup: pulumi.Output<string>;
  public readonly template: gcp.compute.RegionInstanceTemplate;
  /** The VMs' own service account. */
  public readonly serviceAccountEmail: pulumi.Output<string>;

  constructor(name: string, args: RegionalTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:compute:RegionalTier", name, {}, opts);
    const { region } = args;
    const { account, bootGrants } = createWorkloadIdentity(
      name,
      { project: args.project, accountId: args.accountId, displayName: `${args.description} in ${region.name}`, secretIds: args.secretIds, artifactReads: args.artifactReads, apis: args.apis },
      this,
    );
    this.serviceAccountEmail = account.email;
    // Regional, as Google recommends for regional groups: a region's fleet depends on nothing in
    // another region. Auto-named from a prefix: a change creates the new template before the old
    // one is deleted, and the new name is the group's new version.
    this.template = new gcp.compute.RegionInstanceTemplate(
      `${name}-template`,
      {
        namePrefix: `${args.tierName}-`,
        region: region.name,
        machineType: args.machineType,
        disks: [{ sourceImage: args.image, diskSizeGb: args.bootDiskSizeGb, diskType: "pd-balanced", boot: true, autoDelete: true }],
        metadataStartupScript: args.startupScript,
        ...vmSettings({ subnetwork: args.subnetwork, serviceAccountEmail: account.email, tags: args.tags, labels: args.labels }),
      },
      // After the grants on what its VMs read at boot.
      { parent: this, dependsOn: [...args.apis, ...bootGrants] },
    );

    // Liveness, and slower than the load balancer: a shared dependency's outage (the database)
    // makes every VM unready at once, and recreating the whole fleet then would make it worse.
    const autohealing = new gcp.compute.HealthCheck(
      `${name}-autoheal`,
      {
        name: `${args.tierName}-autoheal`,
        checkIntervalSec: 10,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 6,
        httpHealthCheck: { port: args.autohealing.port, requestPath: args.autohealing.path },
      },
      { parent: this, dependsOn: args.apis },
    );

    this.group = new gcp.compute.RegionInstanceGroupManager(
      `${name}-group`,
      {
        name: args.tierName,
        baseInstanceName: args.tierName,
        region: region.name,
        distributionPolicyZones: region.zones,
        distributionPolicyTargetShape: "EVEN",
        versions: [{ name: "primary", instanceTemplate: this.template.selfLink }],
        namedPorts: args.namedPorts,
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
          name: args.tierName,
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

    this.registerOutputs({ group: this.group, instanceGroup: this.instanceGroup, template: this.template, serviceAccountEmail: this.serviceAccountEmail });
  }
}
