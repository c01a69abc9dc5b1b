/**
 * Kong's shared Cloud SQL, for the topologies whose rules accept `database`: the database, its
 * password's secret, the boot scripts of the VMs whose Kong uses it, and the one migrator that
 * migrates it and writes Kong's entities.
 */
import * as pulumi from "@pulumi/pulumi";
import { secretResourceName } from "../../config/naming";
import type { ServiceConfig } from "../../config/schema";
import type { KongClusterFiles } from "../../startup/boot-input";
import { KongDatabase } from "../kong-database";
import { KongMigrator } from "../kong-migrator";
import { resourceLabels } from "../labels";
import type { DatabaseOutputs, FleetContext, Rollout } from "./contract";
import { kongConfFor } from "./kong-node";
import { renderVmScript } from "./vm-scripts";

export interface SharedKongDatabase {
  /** The password's secret (`projects/…/secrets/…`), which every VM on the database reads. */
  passwordSecretId: pulumi.Output<string>;
  /**
   * The boot script of a VM whose Kong runs on the database; when the database does not answer at
   * boot, it starts DB-less from `fallbackConfig` (the same entities as a declarative config).
   */
  nodeScript(role: string, region: string, services: ServiceConfig[], kongUrl: string, fallbackConfig: pulumi.Input<string>): pulumi.Output<string>;
  /** The boot script of hybrid's control plane (sharedKongDatabase with `cluster`). */
  controlPlaneScript(region: string): pulumi.Output<string>;
  /** The migrator, which writes `adminRequests` (renderAdminRequests) into the database. */
  migrate(adminRequests: pulumi.Input<string>): Rollout;
  outputs: DatabaseOutputs;
}

/**
 * @param cluster hybrid's certificate: every node on the database is then a control plane, the
 * migrator too, so its writes reach the data planes (a control plane's write broadcasts
 * `clustering:push_config` to the others through the database: Kong 3.9.1 kong/clustering/events.lua;
 * a traditional node's would not).
 */
export function sharedKongDatabase(context: FleetContext, cluster?: pulumi.Output<KongClusterFiles>): SharedKongDatabase {
  const { name, parent, config, network } = context;
  // Validation resolves `database` for every topology whose rules accept it.
  const settings = config.database!;
  const stack = pulumi.getStack();
  const database = new KongDatabase(
    `${name}-db`,
    {
      prefix: config.prefix,
      settings,
      networkId: network.network.id,
      privateServicesConnection: network.privateServicesConnection!,
      apis: network.apis,
      labels: resourceLabels(stack, "kong-database"),
    },
    { parent },
  );
  const passwordSecretId = database.passwordSecret.secretId.apply((id) => secretResourceName(config.project, id));
  // Every node reads the primary, the replica's region's too (startup/kong-conf.ts: no pg_ro_host).
  const conf = pulumi
    .all([context.loadBalancerAddress, database.host])
    .apply(([address, host]) => kongConfFor(config, address, { database: { host, verifiedTls: true } }, cluster && { role: "control_plane" }));
  const onDatabase = pulumi.all([conf, passwordSecretId, database.serverCa, cluster]);
  return {
    passwordSecretId,
    nodeScript: (role, region, services, kongUrl, fallbackConfig) =>
      pulumi
        .all([onDatabase, fallbackConfig, services.length ? context.artifacts : {}])
        .apply(([[conf, passwordSecret, databaseCa], fallbackConfig, artifacts]) =>
          renderVmScript(config, role, region, services, kongUrl, artifacts, { conf, mode: { kind: "shared-db", passwordSecret, databaseCa, fallbackConfig } }),
        ),
    controlPlaneScript: (region) =>
      onDatabase.apply(([conf, passwordSecret, databaseCa, cluster]) =>
        renderVmScript(config, "control-plane", region, [], "", {}, { conf, cluster, mode: { kind: "control-plane", passwordSecret, databaseCa } }),
      ),
    migrate: (adminRequests) => {
      const migrator = new KongMigrator(
        `${name}-migrator`,
        {
          prefix: config.prefix,
          project: config.project,
          zone: settings.zone,
          image: config.image,
          subnetwork: network.subnets[settings.region].selfLink,
          startupScript: pulumi
            .all([onDatabase, adminRequests])
            .apply(([[conf, passwordSecret, databaseCa, cluster], requests]) =>
              renderVmScript(config, "migrator", settings.region, [], "", {}, { conf, cluster, mode: { kind: "migrator", passwordSecret, databaseCa, adminRequests: requests } }),
            ),
          secretIds: [passwordSecretId, ...(cluster ? [cluster.keySecret] : [])],
          labels: resourceLabels(stack, "kong-migrator"),
          apis: network.apis,
        },
        { parent },
      );
      return { resource: migrator, id: migrator.instance.id };
    },
    outputs: {
      connectionName: database.connectionName,
      passwordSecret: database.passwordSecret.secretId,
      instances: [database.instance.name, ...Object.values(database.replicas).map((replica) => replica.name)],
    },
  };
}
