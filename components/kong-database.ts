/**
 * KongDatabase: Kong's PostgreSQL on Cloud SQL, private IP only, with an HA standby, point-in-time
 * recovery, an optional cross-region replica, and the `kong` user's password in Secret Manager.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { DatabasePlan } from "../config/stack-config";

export interface KongDatabaseArgs {
  prefix: string;
  settings: DatabasePlan;
  /** The VPC whose private services access the instance joins. */
  networkId: pulumi.Input<string>;
  /** The instance can only get a private IP once the peering exists. */
  privateServicesConnection: gcp.servicenetworking.Connection;
  /** The enabled APIs (sqladmin, secretmanager). */
  apis: pulumi.Resource[];
  labels: Record<string, string>;
}

/** Inputs Cloud SQL changes itself: the provider's docs say to ignore `diskSize` with `diskAutoresize`. */
const grownByCloudSql = ["settings.diskSize"];

export class KongDatabase extends pulumi.ComponentResource {
  public readonly instance: gcp.sql.DatabaseInstance;
  public readonly replica?: gcp.sql.DatabaseInstance;
  /** Private IP of the primary: Kong's `pg_host`. */
  public readonly host: pulumi.Output<string>;
  public readonly connectionName: pulumi.Output<string>;
  /** Holds the `kong` user's password; VMs read it at boot. */
  public readonly passwordSecret: gcp.secretmanager.Secret;
  /**
   * The primary's server CA (PEM), which Kong verifies the database against. Only the primary's:
   * waiting for the replica's would hold every fleet back by the replica's creation; promoting the
   * replica is a `pulumi up` that hands the fleets its CA (README runbook).
   */
  public readonly serverCa: pulumi.Output<string>;

  constructor(name: string, args: KongDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:database:KongDatabase", name, {}, opts);
    const { settings, labels } = args;

    // Alphanumeric: the password travels through an env file and a libpq connection unquoted.
    const password = new random.RandomPassword(`${name}-password`, { length: 32, special: false }, { parent: this });
    const passwordValue = pulumi.secret(password.result);
    this.passwordSecret = new gcp.secretmanager.Secret(
      `${name}-password`,
      { secretId: `${args.prefix}-kong-db-password`, replication: { auto: {} }, labels },
      { parent: this, dependsOn: args.apis },
    );
    new gcp.secretmanager.SecretVersion(
      `${name}-password`,
      { secret: this.passwordSecret.id, secretData: passwordValue },
      { parent: this, additionalSecretOutputs: ["secretData"] },
    );

    // What the primary and the replica share; each adds its place and its role.
    const instance = {
      databaseVersion: settings.version,
      deletionProtection: settings.deletionProtection,
    };
    const instanceSettings = {
      edition: settings.edition,
      tier: settings.tier,
      diskType: "PD_SSD",
      diskSize: settings.diskSizeGb,
      diskAutoresize: true,
      deletionProtectionEnabled: settings.deletionProtection,
      ipConfiguration: { ipv4Enabled: false, privateNetwork: args.networkId, sslMode: "ENCRYPTED_ONLY" },
      userLabels: labels,
    };
    // Auto-named: a Cloud SQL name cannot be reused for about a week after deletion.
    this.instance = new gcp.sql.DatabaseInstance(
      `${name}-primary`,
      {
        ...instance,
        region: settings.region,
        settings: {
          ...instanceSettings,
          availabilityType: settings.highAvailability ? "REGIONAL" : "ZONAL",
          locationPreference: {
            zone: settings.zone,
            ...(settings.highAvailability ? { secondaryZone: settings.secondaryZone } : {}),
          },
          backupConfiguration: {
            enabled: true,
            pointInTimeRecoveryEnabled: true,
            startTime: settings.backupStartTime,
            transactionLogRetentionDays: 7,
            backupRetentionSettings: { retainedBackups: 14, retentionUnit: "COUNT" },
          },
          maintenanceWindow: { day: 7, hour: 4, updateTrack: "stable" },
          insightsConfig: { queryInsightsEnabled: true },
        },
      },
      // Cloud SQL grows the disk (diskAutoresize); setting the configured size back would fail.
      { parent: this, dependsOn: [args.privateServicesConnection, ...args.apis], ignoreChanges: grownByCloudSql },
    );

    if (settings.replica) {
      // For the day the primary's region is lost; promotion is manual (README runbook). Kong does not read it.
      this.replica = new gcp.sql.DatabaseInstance(
        `${name}-replica`,
        {
          ...instance,
          region: settings.replica.region,
          masterInstanceName: this.instance.name,
          settings: { ...instanceSettings, availabilityType: "ZONAL", locationPreference: { zone: settings.replica.zone } },
        },
        { parent: this, ignoreChanges: grownByCloudSql },
      );
    }

    const kongDb = new gcp.sql.Database(
      `${name}-kong`,
      { name: "kong", instance: this.instance.name, deletionPolicy: "ABANDON" },
      { parent: this },
    );
    // Created once the replica exists, so replica creation never races a change to the user.
    new gcp.sql.User(
      `${name}-kong`,
      { name: "kong", instance: this.instance.name, password: passwordValue, deletionPolicy: "ABANDON" },
      { parent: this, dependsOn: [kongDb, ...(this.replica ? [this.replica] : [])], additionalSecretOutputs: ["password"] },
    );

    this.host = this.instance.privateIpAddress;
    this.serverCa = this.instance.serverCaCerts.apply((certificates) => certificates.map((c) => `${c.cert.trim()}\n`).join(""));
    this.connectionName = this.instance.connectionName;
    this.registerOutputs({
      instance: this.instance,
      replica: this.replica,
      host: this.host,
      connectionName: this.connectionName,
      passwordSecret: this.passwordSecret,
    });
  }
}
