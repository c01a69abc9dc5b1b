/**
 * The pictures bucket Attachments writes to: where it lives, and that only the VMs running
 * Attachments may create objects in it and list buckets, in every example stack.
 */
import type { Recording } from "../plan/record";
import { exampleStacks } from "../scripts/outage-table";
import { inputs, ofType, one, recordStack } from "./support/stack";

const stacks: Record<string, Recording> = {};
beforeAll(async () => {
  for (const [topology, stack] of Object.entries(exampleStacks)) stacks[topology] = await recordStack(stack);
});

/** Grants on the pictures bucket or the project: the builds bucket's are test/service-builds.test.ts's. */
const notOnBuilds = (m: { bucket?: string }) => !m.bucket?.startsWith("builds-");

const members = (recording: Recording, type: string, role: string) =>
  ofType(recording, type)
    .map(inputs)
    .filter((m) => m.role === role && notOnBuilds(m))
    .map((m) => m.member)
    .sort();

const picturesBucket = (recording: Recording) => ofType(recording, "gcp:storage/bucket:Bucket").map(inputs).find((b) => b.name.startsWith("pictures-"))!;

/** `serviceAccount:<email>` of each template whose VMs run Attachments. */
function attachmentsAccounts(recording: Recording): string[] {
  const templates = ofType(recording, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate").map(inputs);
  const running = templates.filter((t) => t.metadataStartupScript.includes("write_unit geo-svc-attachments.service"));
  expect(running.length).toBeGreaterThan(0);
  return running.map((t) => `serviceAccount:${t.serviceAccount.email}`).sort();
}

describe.each(Object.keys(exampleStacks))("the %s example stack", (topology) => {
  it("has one pictures bucket in the US multi-region, uniform access, after the Storage API", () => {
    const recording = stacks[topology];
    const buckets = ofType(recording, "gcp:storage/bucket:Bucket");
    expect(buckets.map((b) => inputs(b).name).sort()).toEqual(["builds-geo-offline-plan-project", "pictures-geo-offline-plan-project"]);
    const bucket = buckets.find((b) => inputs(b).name.startsWith("pictures-"))!;
    expect(inputs(bucket)).toMatchObject({ location: "US", uniformBucketLevelAccess: true, name: expect.stringMatching(/^pictures-/) });
    const api = ofType(recording, "gcp:projects/service:Service").find((s) => inputs(s).service === "storage.googleapis.com");
    expect(bucket.dependencies).toContain(api!.urn);
  });

  it("lets exactly the VMs that run Attachments create objects and list buckets, with a role of that one permission", () => {
    const recording = stacks[topology];
    const writers = attachmentsAccounts(recording);
    expect(writers).toHaveLength(3);
    const lister = inputs(one(recording, "gcp:projects/iAMCustomRole:IAMCustomRole"));
    expect(lister.permissions).toEqual(["storage.buckets.list"]);
    expect(members(recording, "gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectCreator")).toEqual(writers);
    expect(members(recording, "gcp:projects/iAMMember:IAMMember", `projects/offline-plan-project/roles/${lister.roleId}`)).toEqual(writers);
  });

  it("gives the listing role an id of its own creation: a deleted custom role's id cannot be reused for up to 37 days", () => {
    const recording = stacks[topology];
    const role = one(recording, "gcp:projects/iAMCustomRole:IAMCustomRole");
    const suffix = ofType(recording, "random:index/randomId:RandomId").find((r) => role.dependencies.includes(r.urn));
    expect(suffix).toBeDefined();
    expect(inputs(role).roleId).toMatch(/^[a-zA-Z0-9_.]{3,64}$/);
    expect(inputs(role).roleId).toMatch(/^geo_pictures_lister_[0-9a-f]{8}$/);
  });

  it("grants no other storage role to anyone but allUsers' read, which the stack file chose", () => {
    const recording = stacks[topology];
    const storageGrants = [...ofType(recording, "gcp:storage/bucketIAMMember:BucketIAMMember"), ...ofType(recording, "gcp:projects/iAMMember:IAMMember")]
      .map(inputs)
      .filter((m) => notOnBuilds(m) && (m.role.includes("storage") || m.role.includes("_pictures_lister_")));
    const expected = [
      ...attachmentsAccounts(recording).flatMap((member) => [
        { member, role: "roles/storage.objectCreator" },
        { member, role: expect.stringMatching(/_pictures_lister_[0-9a-f]{8}$/) },
      ]),
      { member: "allUsers", role: "roles/storage.legacyObjectReader" },
    ];
    expect(storageGrants.map(({ member, role }) => ({ member, role }))).toEqual(expect.arrayContaining(expected));
    expect(storageGrants).toHaveLength(expected.length);
  });
});

/**
 * Permissions of the predefined roles a public grant could use (Google Cloud, "IAM roles for Cloud
 * Storage"): objectViewer also lists, which would let anyone enumerate every picture.
 */
const rolePermissions: Record<string, string[]> = {
  "roles/storage.legacyObjectReader": ["storage.objects.get"],
  "roles/storage.objectViewer": ["storage.folders.get", "storage.folders.list", "storage.managedFolders.get", "storage.managedFolders.list", "storage.objects.get", "storage.objects.list"],
};

describe("public read is a switch", () => {
  it("on: anyone may get an object whose URL they have, and no one may list them", () => {
    const publicRoles = ofType(stacks["shared-db"], "gcp:storage/bucketIAMMember:BucketIAMMember")
      .map(inputs)
      .filter((m) => m.member === "allUsers")
      .map((m) => m.role);
    expect(publicRoles).toHaveLength(1);
    expect(rolePermissions[publicRoles[0]]).toEqual(["storage.objects.get"]);
  });

  it("off: no allUsers grant, and public access prevention enforced on the bucket", async () => {
    const recording = await recordStack("us-multi", { pictures: { publicRead: false } });
    expect(recording.errors).toEqual([]);
    expect(ofType(recording, "gcp:storage/bucketIAMMember:BucketIAMMember").map(inputs).filter((m) => m.member === "allUsers")).toEqual([]);
    expect(picturesBucket(recording).publicAccessPrevention).toBe("enforced");
  });

  it("on: allUsers may read, and public access prevention is inherited", () => {
    expect(members(stacks["shared-db"], "gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.legacyObjectReader")).toEqual(["allUsers"]);
    expect(picturesBucket(stacks["shared-db"]).publicAccessPrevention).toBe("inherited");
  });
});
