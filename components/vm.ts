/**
 * What every VM of the stack shares, whether in a group's template or a single instance: its own
 * service account with only the roles it needs, no external address, Shielded VM and OS Login.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

/** Objects of the builds bucket an account may read: exactly the artifacts its VMs run. */
export interface ArtifactReads {
  bucket: pulumi.Input<string>;
  objects: string[];
}

export interface WorkloadIdentityArgs {
  project: string;
  /** 6 to 30 characters. */
  accountId: string;
  displayName: string;
  /** Secrets (`projects/…/secrets/…` ids) the VMs read at boot. */
  secretIds: pulumi.Input<string>[];
  /** The builder's artifacts the VMs download at boot: exactly those objects. */
  artifactReads?: ArtifactReads;
  /** The enabled APIs; the account and, through it, its grants wait for them. */
  apis: pulumi.Resource[];
}

export interface WorkloadIdentity {
  account: gcp.serviceaccount.Account;
  /** The grants on what VMs read at boot (secrets, artifacts), so they are created first. */
  bootGrants: pulumi.Resource[];
}

/**
 * A condition naming each object (IAM Conditions' `resource.name` of a Cloud Storage object:
 * `projects/_/buckets/B/objects/O`, cloud.google.com/iam/docs/conditions-resource-attributes): the
 * grant reads those objects and nothing else; listing the bucket, whose resource is the bucket, is refused.
 */
export function objectsCondition(bucket: string, objects: string[]): string {
  return objects.map((o) => `resource.name == "projects/_/buckets/${bucket}/objects/${o}"`).join(" || ");
}

/** Logs and metrics, plus read access to each named secret and artifact and nothing else. */
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
  const reads = args.artifactReads;
  const artifactGrants = reads?.objects.length
    ? [
        new gcp.storage.BucketIAMMember(
          `${name}-artifacts`,
          {
            bucket: reads.bucket,
            role: "roles/storage.objectViewer",
            member,
            condition: {
              title: "its-artifacts-only",
              description: "The builder's artifacts these VMs run",
              expression: pulumi.output(reads.bucket).apply((bucket) => objectsCondition(bucket, reads.objects)),
            },
          },
          { parent },
        ),
      ]
    : [];
  return { account, bootGrants: [...secretGrants, ...artifactGrants] };
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
