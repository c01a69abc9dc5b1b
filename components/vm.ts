/**
 * What every VM of the stack shares, whether in a group's template or a single instance: its own
 * service account with only the roles it needs, no external address, Shielded VM and OS Login.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface WorkloadIdentityArgs {
  project: string;
  /** 6 to 30 characters. */
  accountId: string;
  displayName: string;
  /** Secrets (`projects/…/secrets/…` ids) the VMs read at boot. */
  secretIds: pulumi.Input<string>[];
  /** The enabled APIs; the account and, through it, its grants wait for them. */
  apis: pulumi.Resource[];
}

export interface WorkloadIdentity {
  account: gcp.serviceaccount.Account;
  /** The grants on the secrets: VMs read them at boot, so they are created first. */
  secretGrants: gcp.secretmanager.SecretIamMember[];
}

/** Logs and metrics, plus read access to each named secret and nothing else. */
export function createWorkloadIdentity(name: string, args: WorkloadIdentityArgs, parent: pulumi.Resource): WorkloadIdentity {
  const account = new gcp.serviceaccount.Account(
    `${name}-sa`,
    { accountId: args.accountId, displayName: args.displayName },
    { parent, dependsOn: args.apis },
  );
  const member = pulumi.interpolate`serviceAccount:${account.email}`;
  for (const role of ["roles/logging.logWriter", "roles/monitoring.metricWriter"]) {
    new gcp.projects.IAMMember(`${name}-${role.split("/")[1]}`, { project: args.project, role, member }, { parent });
  }
  const secretGrants = args.secretIds.map(
    (secretId, i) =>
      new gcp.secretmanager.SecretIamMember(`${name}-secret-${i}`, { secretId, role: "roles/secretmanager.secretAccessor", member }, { parent }),
  );
  return { account, secretGrants };
}

export interface VmSettingsArgs {
  subnetwork: pulumi.Input<string>;
  serviceAccountEmail: pulumi.Input<string>;
  tags: string[];
  labels: Record<string, string>;
}

/** The fields an InstanceTemplate and an Instance share. */
export function vmSettings(args: VmSettingsArgs) {
  return {
    // No accessConfigs: no external address; egress goes through Cloud NAT.
    networkInterfaces: [{ subnetwork: args.subnetwork }],
    shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
    serviceAccount: { email: args.serviceAccountEmail, scopes: ["cloud-platform"] },
    metadata: { "enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE" },
    tags: args.tags,
    labels: args.labels,
  };
}
