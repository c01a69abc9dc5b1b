/**
 * KongDatabase: Kong's PostgreSQL on Cloud SQL, private IP only, with an HA standby, point-in-time
 * recovery, cross-region replicas, and the `kong` user's password in Secret Manager. Instances are
 * named by region: the config's first region is the primary, and removing it promotes the next.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { DatabasePlacement, DatabasePlan } from "../config/stack-config";

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

/** The instances' names by position (primary, replica) before they were named by region. */
const legacyNames = ["primary", "replica"];

export class KongDatabase extends pulumi.ComponentResource {
  /** The primary: where Kong writes. */
  public readonly instance: gcp.sql.DatabaseInstance;
  /** Cross-region replicas, by region. */
  public readonly replicas: Record<string, gcp.sql.DatabaseInstance>;
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

    // What every instance shares, in whichever role: a replica's settings are the primary's minus
    // what only a primary takes, so its promotion adds those and changes nothing else.
    const instanceSettings = (place: DatabasePlacement) => ({
      edition: settings.edition,
      tier: settings.tier,
      diskType: "PD_SSD",
      diskSize: settings.diskSizeGb,
      diskAutoresize: true,
      deletionProtectionEnabled: settings.deletionProtection,
      ipConfiguration: { ipv4Enabled: false, privateNetwork: args.networkId, sslMode: "ENCRYPTED_ONLY" },
      userLabels: labels,
      // HA on replicas too: a promoted replica has its standby at once.
      availabilityType: settings.highAvailability ? "REGIONAL" : "ZONAL",
      locationPreference: { zone: place.zone, ...(settings.highAvailability ? { secondaryZone: place.secondaryZone } : {}) },
    });
    const instance = (place: DatabasePlacement, position: number, role: Omit<gcp.sql.DatabaseInstanceArgs, "databaseVersion" | "region">, dependsOn: pulumi.Resource[]) =>
      new gcp.sql.DatabaseInstance(
        // Named by region, not by role: a failover swaps roles by updating instances, never replacing them.
        `${name}-${place.region}`,
        { databaseVersion: settings.version, deletionProtection: settings.deletionProtection, region: place.region, ...role },
        {
          parent: this,
          dependsOn,
          // What the instance in this position was called before instances were named by region.
          aliases: position < legacyNames.length ? [{ name: `${name}-${legacyNames[position]}` }] : [],
          // Cloud SQL grows the disk (diskAutoresize); setting the configured size back would fail.
          ignoreChanges: grownByCloudSql,
          // An instance that leaves the config (the lost primary of a failover) leaves the stack
          // without a call to its region: it stays in GCP, untouched, for recovery (README runbook).
          // Without deletion protection `pulumi destroy` is meant to delete it.
          retainOnDelete: settings.deletionProtection,
        },
      );

    this.instance = instance(
      settings,
      0,
      {
        instanceType: "CLOUD_SQL_INSTANCE",
        settings: {
          ...instanceSettings(settings),
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
      [args.privateServicesConnection, ...args.apis],
    );
    // For the day the primary's region is lost: promoted in place by a config change (README runbook). Kong does not read them.
    this.replicas = Object.fromEntries(
      settings.replicas.map((place, i) => [
        place.region,
        instance(place, i + 1, { instanceType: "READ_REPLICA_INSTANCE", masterInstanceName: this.instance.name, settings: instanceSettings(place) }, []),
      ]),
    );

    // Kong's database and login, created once on the stack's first primary. Replication carries
    // them to every replica, so a promoted one has them already: a failover must not create them
    // again, nor call the lost instance to delete them (Google's own failover example keeps users
    // and databases out of Terraform for this reason: terraform-google-sql-db v28.1.1,
    // examples/postgresql-with-cross-region-failover/README.md).
    // The user's password is ignored too: an update would go to the instance that created it, which
    // after a failover is not the primary (README runbook: rotating the password).
    const createdOnce = { parent: this, retainOnDelete: true };
    const kongDb = new gcp.sql.Database(`${name}-kong`, { name: "kong", instance: this.instance.name, deletionPolicy: "ABANDON" }, { ...createdOnce, ignoreChanges: ["instance"] });
    // Created once the replicas exist, so a replica's creation never races a change to the user.
    new gcp.sql.User(
      `${name}-kong`,
      { name: "kong", instance: this.instance.name, password: passwordValue, deletionPolicy: "ABANDON" },
      { ...createdOnce, ignoreChanges: ["instance", "password"], dependsOn: [kongDb, ...Object.values(this.replicas)], additionalSecretOutputs: ["password"] },
    );

    this.host = this.instance.privateIpAddress;
    this.serverCa = this.instance.serverCaCerts.apply((certificates) => certificates.map((c) => `${c.cert.trim()}\n`).join(""));
    this.connectionName = this.instance.connectionName;
    this.registerOutputs({
      instance: this.instance,
      replicas: this.replicas,
      host: this.host,
      connectionName: this.connectionName,
      passwordSecret: this.passwordSecret,
    });
  }
}
