/**
 * GeoApiLayer: the whole stack from one validated config: network, Kong's database and its
 * migrator, a gateway fleet per region, the global load balancer, and the post-deploy check.
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/validate";
import { kongAdminPort } from "../config/validate";
import { renderKongConf } from "../startup/kong-conf";
import { adminRequests, kongEntities, renderAdminRequests } from "../startup/kong-entities";
import { firstBootBudgetSec, renderStartupScript, StartupScriptInput } from "../startup/startup-script";
import { DeployCheck } from "./deploy-check";
import { GlobalLoadBalancer } from "./global-load-balancer";
import { KongDatabase } from "./kong-database";
import { KongMigrator } from "./kong-migrator";
import { resourceLabels } from "./labels";
import { Network } from "./network";
import { proxyPortName, RegionalGateway } from "./regional-gateway";

export interface GeoApiLayerArgs {
  /** The stack's validated config (config/validate.ts). */
  config: StackConfig;
}

/** Debian codename of each supported image, for Kong's apt repository. */
const debianCodenames: Record<StackConfig["image"], string> = { "debian-cloud/debian-12": "bookworm" };

export class GeoApiLayer extends pulumi.ComponentResource {
  public readonly url: pulumi.Output<string>;
  public readonly address: pulumi.Output<string>;
  /** Managed instance group name per region. */
  public readonly groups: Record<string, pulumi.Output<string>>;
  public readonly databaseConnectionName: pulumi.Output<string>;
  /** Secret Manager secret holding Kong's database password. */
  public readonly databasePasswordSecret: pulumi.Output<string>;

  constructor(name: string, args: GeoApiLayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:stack:GeoApiLayer", name, {}, opts);
    const { config } = args;
    const { prefix, kong } = config;
    const stack = pulumi.getStack();
    const servingTag = `${prefix}-kong`;

    const network = new Network(
      `${name}-network`,
      {
        prefix,
        subnets: Object.fromEntries(config.regions.map((r) => [r.name, r.subnetCidr])),
        servingTag,
        proxyPort: kong.proxyPort,
        statusPort: kong.statusPort,
        privateServicesRange: config.network.privateServicesRange,
      },
      { parent: this },
    );
    const database = new KongDatabase(
      `${name}-db`,
      {
        prefix,
        settings: config.database,
        networkId: network.network.id,
        privateServicesConnection: network.privateServicesConnection!,
        apis: network.apis,
        labels: resourceLabels(stack, "kong-database"),
      },
      { parent: this },
    );
    const passwordSecretId = pulumi.interpolate`projects/${config.project}/secrets/${database.passwordSecret.secretId}`;
    const kongConf = pulumi
      .all([database.host, database.readReplicaHost])
      .apply(([host, readReplicaHost]) =>
        renderKongConf({ ...kong, adminPort: kongAdminPort, database: { host, readReplicaHost } }),
      );
    const bootBudgetSec = firstBootBudgetSec(config.services);
    const script = (role: StartupScriptInput["role"], region: string, services: StartupScriptInput["services"], kongAdminRequests?: string) =>
      pulumi.all([kongConf, passwordSecretId]).apply(([conf, secret]) =>
        renderStartupScript({
          role,
          region,
          debianCodename: debianCodenames[config.image],
          kongVersion: kong.version,
          kongConf: conf,
          statusPort: kong.statusPort,
          adminPort: kongAdminPort,
          kongPasswordSecret: secret,
          kongAdminRequests,
          services,
          project: config.project,
          bootBudgetSec,
        }),
      );

    const entities = kongEntities(config.services, { internalSources: config.regions.map((r) => r.subnetCidr) });
    const migrator = new KongMigrator(
      `${name}-migrator`,
      {
        prefix,
        project: config.project,
        zone: config.database.zone,
        image: config.image,
        subnetwork: network.subnets[config.database.region].selfLink,
        startupScript: script("migrator", config.database.region, [], renderAdminRequests(adminRequests(entities))),
        passwordSecretId,
        labels: resourceLabels(stack, "kong-migrator"),
        apis: network.apis,
      },
      { parent: this },
    );

    const serviceSecretIds = [...new Set(config.services.flatMap((s) => Object.values(s.secretEnv)))].map(
      (id) => `projects/${config.project}/secrets/${id}`,
    );
    const gateways = config.regions.map(
      (region) =>
        new RegionalGateway(
          `${name}-${region.name}`,
          {
            prefix,
            project: config.project,
            region,
            machineType: config.machineType,
            image: config.image,
            bootDiskSizeGb: config.bootDiskSizeGb,
            subnetwork: network.subnets[region.name].selfLink,
            servingTag,
            startupScript: script("node", region.name, config.services),
            secretIds: [passwordSecretId, ...serviceSecretIds],
            proxyPort: kong.proxyPort,
            statusPort: kong.statusPort,
            bootBudgetSec,
            labels: resourceLabels(stack, "regional-gateway"),
            apis: network.apis,
          },
          { parent: this },
        ),
    );

    const loadBalancer = new GlobalLoadBalancer(
      `${name}-lb`,
      {
        prefix,
        backends: Object.fromEntries(config.regions.map((r, i) => [r.name, gateways[i].instanceGroup])),
        portName: proxyPortName,
        statusPort: kong.statusPort,
        // Liveness: Kong keeps proxying from its cache while the database is away, so a database
        // (or database-region) outage must not take every region out of the load balancer.
        healthCheckPath: "/status",
        domains: config.loadBalancer.domains,
        sessionAffinity: config.loadBalancer.sessionAffinity,
        timeoutSec: config.loadBalancer.timeoutSec,
        labels: resourceLabels(stack, "global-load-balancer"),
        apis: network.apis,
      },
      { parent: this },
    );

    if (config.deployCheck.enabled) {
      new DeployCheck(
        `${name}-check`,
        {
          baseUrl: loadBalancer.url,
          probes: config.services.flatMap((s) =>
            s.routes.filter((r) => !r.internal).map((r) => ({ method: r.methods?.[0] ?? "GET", path: r.paths[0] })),
          ),
          timeoutSec: config.deployCheck.timeoutSec,
          triggers: [migrator.instance.id, ...gateways.map((g) => g.template.id)],
        },
        { parent: this, dependsOn: [loadBalancer, migrator, ...gateways] },
      );
    }

    this.url = loadBalancer.url;
    this.address = loadBalancer.address;
    this.groups = Object.fromEntries(config.regions.map((r, i) => [r.name, gateways[i].group.name]));
    this.databaseConnectionName = database.connectionName;
    this.databasePasswordSecret = database.passwordSecret.secretId;
    this.registerOutputs({
      url: this.url,
      address: this.address,
      groups: this.groups,
      databaseConnectionName: this.databaseConnectionName,
      databasePasswordSecret: this.databasePasswordSecret,
    });
  }
}
