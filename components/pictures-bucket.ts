/**
 * PicturesBucket: the Cloud Storage bucket Attachments stores pictures in, and the only grants on
 * it. At its first upload Attachments lists the project's buckets and takes the first whose name
 * starts with "pictures" (ObjectStorageGoogleCloudImpl at the pinned commit); without one it would
 * create its own and open it to allUsers. So the stack makes the bucket, and its writers may
 * create objects in it and list buckets, nothing more.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface PicturesBucketArgs {
  project: string;
  /** Starts with "pictures" (config/messenger.ts). */
  bucketName: string;
  /** Multi-region or dual-region: pictures stay readable when a region is lost. */
  location: string;
  /**
   * Anyone may read an object whose URL they have (Attachments returns public URLs), never list
   * the bucket.
   */
  publicRead: boolean;
  /** Service account emails of the VMs that run the service storing pictures. */
  writers: pulumi.Input<string>[];
  /** Start of the id of the project role holding only `storage.buckets.list` (picturesListerRoleBase). */
  listerRoleBase: string;
  labels: Record<string, string>;
  apis: pulumi.Resource[];
}

/** Holds `storage.objects.get` and nothing else (Google's IAM roles for Cloud Storage). */
const publicReadRole = "roles/storage.legacyObjectReader";

export class PicturesBucket extends pulumi.ComponentResource {
  public readonly bucket: gcp.storage.Bucket;

  constructor(name: string, args: PicturesBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:storage:PicturesBucket", name, {}, opts);
    const after = { parent: this, dependsOn: args.apis };
    this.bucket = new gcp.storage.Bucket(
      `${name}-bucket`,
      {
        name: args.bucketName,
        location: args.location,
        uniformBucketLevelAccess: true,
        // Enforced unless public read is chosen: no grant can make an object public by mistake.
        publicAccessPrevention: args.publicRead ? "inherited" : "enforced",
        labels: args.labels,
      },
      after,
    );
    // A deleted custom role's id cannot be used again for up to 37 days (terraform-provider-google
    // v7.45.0, google_project_iam_custom_role docs: undeletable for 7, unusable for 30 more), so
    // each creation gets its own: `pulumi destroy` then `pulumi up` makes a new id.
    const roleSuffix = new random.RandomId(`${name}-lister-id`, { byteLength: 4 }, { parent: this });
    // The narrowest role with storage.buckets.list is one with nothing else: the predefined roles
    // that hold it also read or administer buckets.
    const lister = new gcp.projects.IAMCustomRole(
      `${name}-lister`,
      {
        project: args.project,
        roleId: pulumi.interpolate`${args.listerRoleBase}_${roleSuffix.hex}`,
        title: "List buckets (pictures writers)",
        description: "storage.buckets.list only: Attachments finds its pictures bucket by listing the project's buckets",
        permissions: ["storage.buckets.list"],
      },
      after,
    );
    args.writers.forEach((email, i) => {
      const member = pulumi.interpolate`serviceAccount:${email}`;
      new gcp.storage.BucketIAMMember(`${name}-writer-${i}`, { bucket: this.bucket.name, role: "roles/storage.objectCreator", member }, { parent: this });
      new gcp.projects.IAMMember(`${name}-lister-${i}`, { project: args.project, role: lister.name, member }, { parent: this });
    });
    if (args.publicRead) {
      // storage.objects.get only: roles/storage.objectViewer would also let anyone list every object.
      new gcp.storage.BucketIAMMember(`${name}-public-read`, { bucket: this.bucket.name, role: publicReadRole, member: "allUsers" }, { parent: this });
    }
    this.registerOutputs({ bucket: this.bucket });
  }
}
