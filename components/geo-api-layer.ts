/**
 * GeoApiLayer: the whole stack from one validated config: the network, Kong's database and its
 * migrator (shared-db, standalone), the fleets of each region as the topology lays them out, the
 * pictures bucket, the global load balancer, and the post-deploy check.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { picturesListerRoleBase, secretResourceName, tierAccountId, tierName } from "../config/naming";
import type { ServiceConfig } from "../config/schema";
import type { StackConfig } from "../config/validate";
import { kongAdminPort } from "../config/validate";
import { adminRequests, kongEntities, regionalKongEntities, RegionalEndpoints, renderAdminRequests, renderDeclarativeConfig } from "../startup/kong-entities";
import { KongDatabaseEndpoint, loadBalancerKeepaliveSec } from "../startup/kong-conf";
import { behindGoogleLoadBalancer } from "../config/messenger";
import { firstBootBudgetSec, KongMode, renderStartupScript, StartupScriptInput } from "../startup/startup-script";
import { DeployCheck, RouteProbe } from "./deploy-check";
import { GlobalLoadBalancer } from "./global-load-balancer";
import type { CertificateStatus } from "./certificate-manager-https";
import { KongDatabase } from "./kong-database";
import { KongMigrator } from "./kong-migrator";
import { resourceLabels } from "./labels";
import { Network } from "./network";
import { PicturesBucket } from "./pictures-bucket";
import { RegionalTier } from "./regional-tier";
import { StandaloneRegion } from "./standalone-region";
import { firewallPorts, isColocated, kongConfFor, kongHealth, kongProxyPortName, loadBalancerHealthCheck } from "./topology";

export interface GeoApiLayerArgs {
  /** The stack's validated config (config/validate.ts). */
  config: StackConfig;
}

/** A region's Kong routes: its route prefix and its service tiers' addresses. */
function regionalEndpoints(region: StackConfig["regions"][number], serviceAddresses: Record<string, string>): RegionalEndpoints {
  return { region: region.name, routePrefix: region.routePrefix, shortName: region.shortName, serviceAddresses };
}

/** Debian codename of each supported image, for Kong's apt repository. */
const debianCodenames: Record<StackConfig["image"], string> = { "debian-cloud/debian-12": "bookworm" };

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
    const { prefix, kong, topology } = config;
    const stack = pulumi.getStack();
    const servingTag = `${prefix}-serving`;
    const ports = firewallPorts(config);
    const internalSources = config.regions.map((r) => r.subnetCidr);

    const network = new Network(
      `${name}-network`,
      {
        prefix,
        subnets: Object.fromEntries(config.regions.map((r) => [r.name, r.subnetCidr])),
        servingTag,
        loadBalancerPorts: ports.loadBalancer,
        internalPorts: ports.internal,
        privateServicesRange: config.database ? config.network.privateServicesRange : undefined,
        proxySubnets: isColocated(topology)
          ? undefined
          : { ranges: Object.fromEntries(config.regions.map((r) => [r.name, r.proxySubnetCidr!])), ports: [config.entryService.port] },
        flowLogs: config.network.flowLogs,
        extraApis: [...(config.pictures ? ["storage"] : []), ...(config.loadBalancer.domains.length ? ["certificatemanager"] : [])],
        labels: resourceLabels(stack, "network"),
      },
      { parent: this },
    );

    const bootBudgetSec = firstBootBudgetSec(config.services);
    /** A VM's boot script; `kongOnVm` is undefined for a standalone service tier. */
    const script = (role: string, region: string, services: ServiceConfig[], kongUrl: string, kongOnVm?: { mode: KongMode; conf: string }) => {
      const input: StartupScriptInput = {
        role,
        region,
        debianCodename: debianCodenames[config.image],
        kong: kongOnVm && {
          ...kongOnVm,
          version: kong.version,
          packageRepository: kong.packageRepository,
          proxyPort: kong.proxyPort,
          statusPort: kong.statusPort,
          adminPort: kongAdminPort,
        },
        services,
        kongUrl,
        project: config.project,
        bootBudgetSec,
      };
      return renderStartupScript(input);
    };
    const serviceSecretIds = (services: ServiceConfig[]) =>
      [...new Set(services.flatMap((s) => Object.values(s.secretEnv)))].map((id) => secretResourceName(config.project, id));
    const tierDefaults = {
      project: config.project,
      machineType: config.machineType,
      image: config.image,
      bootDiskSizeGb: config.bootDiskSizeGb,
      tags: [servingTag],
      bootBudgetSec,
      apis: network.apis,
    };

    // Reserved before the fleets: Kong trusts X-Forwarded-For entries the load balancer added.
    const loadBalancerAddress = new gcp.compute.GlobalAddress(
      `${name}-lb-address`,
      { name: `${prefix}-lb`, labels: resourceLabels(stack, "global-load-balancer") },
      { parent: this, dependsOn: network.apis },
    );

    // Kong's shared database and the one place that migrates it and writes its entities.
    let shared:
      | {
          database: KongDatabase;
          passwordSecretId: pulumi.Output<string>;
          /**
           * The boot script of a VM whose Kong uses the shared database: the migrator's with
           * `adminRequests`, else a gateway's, which starts from `fallbackConfig` when given and the
           * database does not answer.
           */
          script: (
            role: string,
            region: string,
            services: ServiceConfig[],
            kongUrl: string,
            entities?: { adminRequests: pulumi.Input<string> } | { fallbackConfig: pulumi.Input<string> },
          ) => pulumi.Output<string>;
        }
      | undefined;
    if (config.database) {
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
      const passwordSecretId = database.passwordSecret.secretId.apply((id) => secretResourceName(config.project, id));
      // Every gateway reads the primary, the replica's region's too (startup/kong-conf.ts: no pg_ro_host).
      const conf = pulumi.all([loadBalancerAddress.address, database.host]).apply(([address, host]) => kongConfFor(config, address, { host, verifiedTls: true }));
      shared = {
        database,
        passwordSecretId,
        script: (role, region, services, kongUrl, entities) =>
          pulumi
            .all([
              conf,
              passwordSecretId,
              database.serverCa,
              entities && "adminRequests" in entities ? entities.adminRequests : undefined,
              entities && "fallbackConfig" in entities ? entities.fallbackConfig : undefined,
            ])
            .apply(([conf, passwordSecret, databaseCa, requests, fallbackConfig]) =>
              script(role, region, services, kongUrl, {
                conf,
                mode:
                  requests === undefined
                    ? { kind: "shared-db", passwordSecret, databaseCa, ...(fallbackConfig === undefined ? {} : { fallbackConfig }) }
                    : { kind: "migrator", passwordSecret, databaseCa, adminRequests: requests },
              }),
            ),
      };
    }

    const tiers: RegionalTier[] = [];
    /** Service accounts of the VMs that run the service storing pictures. */
    const pictureWriters: pulumi.Output<string>[] = [];
    const groups: Record<string, pulumi.Output<string>[]> = {};
    const loadBalancerBackends: Record<string, pulumi.Output<string>> = {};
    let entities: pulumi.Output<string> | undefined;
    if (isColocated(topology)) {
      const loopbackEntities = kongEntities(config.services, { internalSources });
      const loopbackRequests = renderAdminRequests(adminRequests(loopbackEntities));
      const kongUrl = `http://127.0.0.1:${kong.proxyPort}`;
      // Without a shared database, Kong's config is on the VM: its own PostgreSQL, or a declarative file.
      const onVm: { database?: KongDatabaseEndpoint; mode: KongMode } | undefined = shared
        ? undefined
        : topology === "sidecar"
          ? { database: { host: "127.0.0.1", verifiedTls: false }, mode: { kind: "local-db", adminRequests: loopbackRequests } }
          : { mode: { kind: "dbless", declarativeConfig: renderDeclarativeConfig(loopbackEntities) } };
      const gatewayScript = (region: string): pulumi.Input<string> => {
        if (shared) return shared.script("gateway", region, config.services, kongUrl, { fallbackConfig: renderDeclarativeConfig(loopbackEntities) });
        const { database, mode } = onVm!;
        return loadBalancerAddress.address.apply((address) => script("gateway", region, config.services, kongUrl, { conf: kongConfFor(config, address, database), mode }));
      };
      if (shared) entities = pulumi.output(loopbackRequests);
      for (const region of config.regions) {
        const tier = new RegionalTier(
          `${name}-${region.name}`,
          {
            ...tierDefaults,
            tierName: tierName(prefix, region.name),
            accountId: tierAccountId(prefix, region.name),
            description: "Kong and the microservices",
            region,
            subnetwork: network.subnets[region.name].selfLink,
            startupScript: gatewayScript(region.name),
            secretIds: [...(shared ? [shared.passwordSecretId] : []), ...serviceSecretIds(config.services)],
            namedPorts: [{ name: kongProxyPortName, port: kong.proxyPort }],
            autohealing: kongHealth(kong.proxyPort),
            labels: resourceLabels(stack, "regional-tier"),
          },
          { parent: this },
        );
        tiers.push(tier);
        if (config.pictures) pictureWriters.push(tier.serviceAccountEmail);
        groups[region.name] = [tier.group.name];
        loadBalancerBackends[region.name] = tier.instanceGroup;
      }
    } else {
      const regions = config.regions.map((region) => {
        const standalone = new StandaloneRegion(
          `${name}-${region.name}`,
          {
            prefix,
            region,
            tier: { ...tierDefaults, labels: resourceLabels(stack, "standalone-region") },
            network: network.network.id,
            subnetwork: network.subnets[region.name].selfLink,
            services: config.services,
            entryService: config.entryService.name,
            proxySubnet: network.proxySubnets[region.name],
            timeoutSec: config.loadBalancer.timeoutSec,
            proxyPort: kong.proxyPort,
            // Without its database at boot, the Kong tier starts from its own region's routes.
            kongScript: (serviceAddresses) =>
              shared!.script("kong-tier", region.name, [], "", {
                fallbackConfig: pulumi
                  .all(serviceAddresses)
                  .apply((addresses) => renderDeclarativeConfig(regionalKongEntities(config.services, [regionalEndpoints(region, addresses)], { internalSources }))),
              }),
            kongSecretIds: [shared!.passwordSecretId],
            serviceScript: (service, kongUrl) =>
              script("service-tier", region.name, [service.name === config.entryService.name ? behindGoogleLoadBalancer(service, loadBalancerKeepaliveSec) : service], kongUrl),
            serviceSecretIds: (service) => serviceSecretIds([service]),
          },
          { parent: this },
        );
        tiers.push(...Object.values(standalone.tiers));
        if (config.pictures) pictureWriters.push(standalone.tiers[config.pictures.service.name].serviceAccountEmail);
        groups[region.name] = Object.values(standalone.tiers).map((t) => t.group.name);
        loadBalancerBackends[region.name] = standalone.tiers[config.entryService.name].instanceGroup;
        return { region, standalone };
      });
      entities = pulumi
        .all(regions.map(({ standalone }) => pulumi.all(standalone.serviceAddresses)))
        .apply((addresses) =>
          renderAdminRequests(
            adminRequests(
              regionalKongEntities(
                config.services,
                regions.map(({ region }, i) => regionalEndpoints(region, addresses[i])),
                { internalSources },
              ),
            ),
          ),
        );
    }

    if (config.pictures) {
      new PicturesBucket(
        `${name}-pictures`,
        {
          project: config.project,
          bucketName: config.pictures.bucketName,
          location: config.pictures.location,
          publicRead: config.pictures.publicRead,
          writers: pictureWriters,
          listerRoleBase: picturesListerRoleBase(prefix),
          labels: resourceLabels(stack, "pictures-bucket"),
          apis: network.apis,
        },
        { parent: this },
      );
    }

    let migrator: KongMigrator | undefined;
    if (shared && config.database && entities) {
      migrator = new KongMigrator(
        `${name}-migrator`,
        {
          prefix,
          project: config.project,
          zone: config.database.zone,
          image: config.image,
          subnetwork: network.subnets[config.database.region].selfLink,
          startupScript: shared.script("migrator", config.database.region, [], "", { adminRequests: entities }),
          passwordSecretId: shared.passwordSecretId,
          labels: resourceLabels(stack, "kong-migrator"),
          apis: network.apis,
        },
        { parent: this },
      );
    }

    const loadBalancer = new GlobalLoadBalancer(
      `${name}-lb`,
      {
        prefix,
        address: loadBalancerAddress,
        backends: loadBalancerBackends,
        portName: isColocated(topology) ? kongProxyPortName : config.entryService.name,
        healthCheck: loadBalancerHealthCheck(config),
        domains: config.loadBalancer.domains,
        sessionAffinity: config.loadBalancer.sessionAffinity,
        timeoutSec: config.loadBalancer.timeoutSec,
        logSampleRate: config.loadBalancer.logSampleRate,
        labels: resourceLabels(stack, "global-load-balancer"),
        apis: network.apis,
      },
      { parent: this },
    );

    if (config.deployCheck.enabled) {
      const probes: RouteProbe[] = isColocated(topology)
        ? config.services.flatMap((s) =>
            s.routes.filter((r) => !r.internal).map((r) => ({ method: r.methods?.[0] ?? "GET", path: r.paths[0], throughKong: true })),
          )
        : [{ method: "GET", path: config.entryService.healthPath, throughKong: false }];
      const rollouts = [...(migrator ? [migrator.instance.id] : []), ...tiers.map((t) => t.template.id)];
      new DeployCheck(
        `${name}-check`,
        {
          baseUrl: loadBalancer.checkUrl,
          header: loadBalancer.checkHeader,
          probes,
          timeoutSec: config.deployCheck.timeoutSec,
          triggers: [...rollouts, loadBalancer.servingConfiguration],
        },
        { parent: this, dependsOn: [loadBalancer, ...(migrator ? [migrator] : []), ...tiers] },
      );
    }

    this.url = loadBalancer.url;
    this.certificates = loadBalancer.certificates;
    this.address = loadBalancer.address;
    this.groups = groups;
    this.databaseConnectionName = shared?.database.connectionName;
    this.databasePasswordSecret = shared?.database.passwordSecret.secretId;
    this.registerOutputs({
      url: this.url,
      address: this.address,
      certificates: this.certificates,
      groups: this.groups,
      databaseConnectionName: this.databaseConnectionName,
      databasePasswordSecret: this.databasePasswordSecret,
    });
  }
}
