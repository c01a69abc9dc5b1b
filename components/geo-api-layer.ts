/**
 * GeoApiLayer: the whole stack from one validated config: the network, the builds of the git-built
 * services, the fleets as the stack's topology lays them out (components/topologies/), the
 * pictures bucket, the global load balancer over the fleets, the post-deploy check and the alerting.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { picturesListerRoleBase } from "../config/naming";
import type { PicturesPlan, StackConfig } from "../config/stack-config";
import { firstBootBudgetSec } from "../startup/startup-script";
import type { CertificateStatus } from "./certificate-manager-https";
import { DeployCheck } from "./deploy-check";
import { GlobalLoadBalancer } from "./global-load-balancer";
import { resourceLabels } from "./labels";
import { Network } from "./network";
import { PicturesBucket } from "./pictures-bucket";
import { ServiceBuilds } from "./service-builds";
import { StackAlerting } from "./stack-alerting";
import type { ServiceArtifact } from "../startup/boot-input";
import { topologies } from "./topologies/catalog";
import type { FleetLayout } from "./topologies/contract";

export interface GeoApiLayerArgs {
  /** The stack's validated config (config/validate.ts). */
  config: StackConfig;
}

export class GeoApiLayer extends pulumi.ComponentResource {
  public readonly url: pulumi.Output<string>;
  public readonly address: pulumi.Output<string>;
  /** With `loadBalancer.domains`: each domain's certificate state and the DNS record that authorizes it. */
  public readonly certificates?: pulumi.Output<Record<string, CertificateStatus>>;
  /** Managed instance group names by region: the gateway group, or standalone's tier groups. */
  public readonly groups: Record<string, pulumi.Output<string>[]>;
  /** Kong's Cloud SQL instance, where the topology has one. */
  public readonly databaseConnectionName?: pulumi.Output<string>;
  /** Secret Manager secret holding Kong's database password, where the topology has one. */
  public readonly databasePasswordSecret?: pulumi.Output<string>;

  constructor(name: string, args: GeoApiLayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:stack:GeoApiLayer", name, {}, opts);
    const { config } = args;
    const { prefix } = config;
    const topology = topologies[config.topology];
    const stack = pulumi.getStack();
    const servingTag = `${prefix}-serving`;

    const network = new Network(
      `${name}-network`,
      {
        ...topology.network(config),
        prefix,
        subnets: Object.fromEntries(config.regions.map((r) => [r.name, r.subnetCidr])),
        servingTag,
        privateServicesRange: config.database ? config.network.privateServicesRange : undefined,
        flowLogs: config.network.flowLogs,
        extraApis: [...(config.pictures || config.builds ? ["storage"] : []), ...(config.loadBalancer.domains.length ? ["certificatemanager"] : [])],
        labels: resourceLabels(stack, "network"),
      },
      { parent: this },
    );

    // Reserved before the fleets: Kong trusts X-Forwarded-For entries the load balancer added.
    const loadBalancerAddress = new gcp.compute.GlobalAddress(
      `${name}-lb-address`,
      { name: `${prefix}-lb`, labels: resourceLabels(stack, "global-load-balancer") },
      { parent: this, dependsOn: network.apis },
    );

    // Built in the first region, whose Cloud NAT reaches the repositories and Maven Central.
    const builds =
      config.builds &&
      new ServiceBuilds(
        `${name}-builds`,
        {
          prefix,
          project: config.project,
          plan: config.builds,
          zone: config.regions[0].zones[0],
          image: config.image,
          subnetwork: network.subnets[config.regions[0].name].selfLink,
          nat: network.nats[config.regions[0].name],
          labels: resourceLabels(stack, "service-builds"),
          apis: network.apis,
        },
        { parent: this },
      );

    const fleets = topology.build({
      name,
      parent: this,
      config,
      network,
      loadBalancerAddress: loadBalancerAddress.address,
      artifacts: builds ? builds.artifacts : pulumi.output<Record<string, ServiceArtifact>>({}),
      artifactReads: (services) => builds?.readsOf(services),
      tier: {
        project: config.project,
        machineType: config.machineType,
        image: config.image,
        bootDiskSizeGb: config.bootDiskSizeGb,
        tags: [servingTag],
        bootBudgetSec: firstBootBudgetSec(config.services),
        apis: network.apis,
      },
    });

    if (config.pictures) this.addPicturesBucket(name, config, config.pictures, fleets.pictureWriters, network.apis);

    const loadBalancer = new GlobalLoadBalancer(
      `${name}-lb`,
      {
        ...fleets.loadBalancer,
        prefix,
        address: loadBalancerAddress,
        domains: config.loadBalancer.domains,
        sessionAffinity: config.loadBalancer.sessionAffinity,
        timeoutSec: config.loadBalancer.timeoutSec,
        logSampleRate: config.loadBalancer.logSampleRate,
        labels: resourceLabels(stack, "global-load-balancer"),
        apis: network.apis,
      },
      { parent: this },
    );

    if (config.deployCheck.enabled) this.addDeployCheck(name, config.deployCheck.timeoutSec, fleets.deployCheck, loadBalancer);

    if (config.alerting) {
      new StackAlerting(
        `${name}-alerting`,
        {
          prefix,
          project: config.project,
          plan: config.alerting,
          uptimeHost: config.loadBalancer.domains.length ? { host: config.loadBalancer.domains[0], https: true } : { host: loadBalancer.address, https: false },
          url: loadBalancer.url,
          urlMapName: loadBalancer.urlMapName,
          backends: fleets.loadBalancer.backends,
          groups: fleets.groups,
          databaseInstances: fleets.database?.instances,
          labels: resourceLabels(stack, "alerting"),
          apis: network.apis,
        },
        { parent: this },
      );
    }

    this.url = loadBalancer.url;
    this.certificates = loadBalancer.certificates;
    this.address = loadBalancer.address;
    this.groups = fleets.groups;
    this.databaseConnectionName = fleets.database?.connectionName;
    this.databasePasswordSecret = fleets.database?.passwordSecret;
    this.registerOutputs({
      url: this.url,
      address: this.address,
      certificates: this.certificates,
      groups: this.groups,
      databaseConnectionName: this.databaseConnectionName,
      databasePasswordSecret: this.databasePasswordSecret,
    });
  }

  /** The bucket Attachments stores pictures in, written by the VMs that run it. */
  private addPicturesBucket(name: string, config: StackConfig, pictures: PicturesPlan, writers: pulumi.Output<string>[], apis: pulumi.Resource[]): void {
    new PicturesBucket(
      `${name}-pictures`,
      {
        project: config.project,
        bucketName: pictures.bucketName,
        location: pictures.location,
        publicRead: pictures.publicRead,
        writers,
        listerRoleBase: picturesListerRoleBase(config.prefix),
        labels: resourceLabels(pulumi.getStack(), "pictures-bucket"),
        apis,
      },
      { parent: this },
    );
  }

  /** After every rollout, probes the routes through the load balancer; runs again when a rollout or what the load balancer serves changes. */
  private addDeployCheck(name: string, timeoutSec: number, { probes, rollouts }: FleetLayout["deployCheck"], loadBalancer: GlobalLoadBalancer): void {
    new DeployCheck(
      `${name}-check`,
      {
        baseUrl: loadBalancer.checkUrl,
        header: loadBalancer.checkHeader,
        probes,
        timeoutSec,
        triggers: [...rollouts.map((r) => r.id), loadBalancer.servingConfiguration],
      },
      { parent: this, dependsOn: [loadBalancer, ...rollouts.map((r) => r.resource)] },
    );
  }
}
