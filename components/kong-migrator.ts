/**
 * KongMigrator: the one place that runs Kong's migrations and writes Kong's entities into the
 * shared database. A single VM that does its job at boot and powers off, like a batch job:
 * concurrent `kong migrations` runs against one database are unsafe, so gateway VMs only wait.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { createWorkloadIdentity, vmSettings } from "./vm";

export interface KongMigratorArgs {
  prefix: string;
  project: string;
  /** A zone of the database's region. */
  zone: string;
  image: string;
  subnetwork: pulumi.Input<string>;
  /** The rendered boot script with role `migrator`. */
  startupScript: pulumi.Input<string>;
  /** Secrets it reads at boot (`projects/…/secrets/…`): the database password, hybrid's cluster key. */
  secretIds: pulumi.Input<string>[];
  labels: Record<string, string>;
  apis: pulumi.Resource[];
}

export class KongMigrator extends pulumi.ComponentResource {
  public readonly instance: gcp.compute.Instance;

  constructor(name: string, args: KongMigratorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:database:KongMigrator", name, {}, opts);
    const { account, bootGrants } = createWorkloadIdentity(
      name,
      {
        project: args.project,
        accountId: `${args.prefix}-kong-migrator`,
        displayName: "Kong migrations and entity writer",
        secretIds: args.secretIds,
        apis: args.apis,
      },
      this,
    );
    this.instance = new gcp.compute.Instance(
      `${name}-vm`,
      {
        name: `${args.prefix}-kong-migrator`,
        zone: args.zone,
        machineType: "e2-small",
        bootDisk: { initializeParams: { image: args.image, size: 10, type: "pd-balanced" } },
        metadataStartupScript: args.startupScript,
        ...vmSettings({ subnetwork: args.subnetwork, serviceAccountEmail: account.email, tags: [], labels: args.labels }),
      },
      // A new script (Kong version, routes) means a new VM, which runs the migrations and upserts again.
      // After the grants on the secrets it reads at boot.
      { parent: this, dependsOn: [...args.apis, ...bootGrants], replaceOnChanges: ["metadataStartupScript"], deleteBeforeReplace: true },
    );
    this.registerOutputs({ instance: this.instance });
  }
}
