/**
 * Kong's database failing over by one config change: the upgrade to instances named by region, the
 * flip (the replica promoted in place, the lost primary retained and no longer referenced), the
 * failback, and the policy on primaries. Diffs are the offline plan's, as a reviewer reads them.
 */
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { diffPlans, renderDiffMarkdown, ResourceChange } from "../plan/diff";
import { PlanDocument, toPlanDocument } from "../plan/document";
import type { Recording } from "../plan/record";
import { checkPolicies, policyResource } from "../policy/rules";
import { inputs, planCommand, recordStack } from "./support/stack";

const instanceType = "gcp:sql/databaseInstance:DatabaseInstance";
const planOf = (recording: Recording): PlanDocument => {
  expect(recording.errors).toEqual([]);
  return toPlanDocument("geo-api-layer", "us-multi", recording.resources);
};
const named = (changes: ResourceChange[], name: string) => changes.find((c) => c.urn.endsWith(`::${name}`));
/** Every `pg_host` a VM of the plan is given: its boot script's kong.conf. */
const pgHosts = (recording: Recording) =>
  recording.resources.flatMap((r) => [...String(inputs(r).metadataStartupScript ?? "").matchAll(/^pg_host = (\S+)$/gm)].map((m) => [r.name, m[1]] as const));
const instance = (recording: Recording, name: string) => recording.resources.find((r) => r.type === instanceType && r.name === name);

describe("upgrading a stack from instances named by role (31290b7) to instances named by region", () => {
  let diff: string;

  beforeAll(async () => {
    // The older plan stands for the stack's state: aliases move its instances to their new names.
    const run = await planCommand("--stack", "us-multi", "--out", mkdtempSync(join(tmpdir(), "upgrade-")), "--diff", join(__dirname, "fixtures", "plans", "us-multi-at-31290b7.json"));
    expect(run.status).toBe(2);
    diff = run.stdout.slice(run.stdout.indexOf("### Offline plan of"));
  });

  it("replaces no instance and removes nothing: the instances are renamed by their aliases and updated in place", () => {
    expect(diff).toMatch(/^### Offline plan of `us-multi`: \d+ to add, \d+ to change, 4 to replace, 0 to remove$/m);
    expect(diff).toContain("**changed** `geo-db-us-central1` (gcp:sql/databaseInstance:DatabaseInstance), renamed from `geo-db-primary`");
    expect(diff).toContain("**changed** `geo-db-us-east4` (gcp:sql/databaseInstance:DatabaseInstance), renamed from `geo-db-replica`");
    // Since then, building once and the alerting: the builder, its bucket and the alerting are new, and so are the templates,
    // whose VMs download what it built; the migrator's script shares the Google API helpers of the
    // download, so it runs once more and finds the schema up to date. The database stays.
    const of = (kind: string) => [...diff.matchAll(new RegExp(`^\\*\\*${kind}\\*\\* \`([^\`]+)\``, "gm"))].map((m) => m[1]).sort();
    expect(of("replaced")).toEqual(["geo-migrator-vm", "geo-us-central1-template", "geo-us-east4-template", "geo-us-west2-template"]);
    expect(of("added").filter((name) => !name.startsWith("geo-builds") && !name.endsWith("-artifacts") && !name.startsWith("geo-alerting"))).toEqual([]);
    expect(diff).not.toMatch(/\*\*(replaced|removed)\*\* `geo-db-/);
  });

  it("makes the replica HA, so that a promoted replica has its standby at once", () => {
    expect(diff).toContain('`inputs.settings.availabilityType`: `"ZONAL"` → `"REGIONAL"`');
  });
});

describe("failing over: the config's first region removed, us-east4's replica becomes the primary", () => {
  let before: Recording;
  let after: Recording;
  let changes: ResourceChange[];

  beforeAll(async () => {
    before = await recordStack("us-multi");
    after = await recordStack("us-multi", { database: { regions: ["us-east4"] } });
    changes = diffPlans(planOf(before), planOf(after));
  });

  it("promotes the replica in place: updated, not replaced, and the diff says it is promoted", () => {
    const promoted = named(changes, "geo-db-us-east4")!;
    expect(promoted.kind).toBe("changed");
    expect(promoted.kind === "changed" && promoted.fields.map((f) => [f.path, f.after])).toEqual(
      expect.arrayContaining([
        ["inputs.instanceType", "CLOUD_SQL_INSTANCE"],
        ["inputs.masterInstanceName", undefined],
      ]),
    );
    expect(renderDiffMarkdown("us-multi", changes)).toContain("Promoted in place: the replica becomes a primary (promoteReplica)");
  });

  it("gives the new primary what a primary needs in the same update: backups, point-in-time recovery, deletion protection, HA", () => {
    const settings = inputs(instance(after, "geo-db-us-east4")!).settings;
    expect(settings.backupConfiguration).toMatchObject({ enabled: true, pointInTimeRecoveryEnabled: true });
    expect([inputs(instance(after, "geo-db-us-east4")!).deletionProtection, settings.deletionProtectionEnabled, settings.availabilityType]).toEqual([true, true, "REGIONAL"]);
  });

  it("lets the old primary leave the stack without a call to its region: retained, not deleted", () => {
    expect(named(changes, "geo-db-us-central1")).toEqual({ kind: "removed", urn: expect.any(String), type: instanceType, retained: true });
    expect(renderDiffMarkdown("us-multi", changes)).toContain("Leaves the stack without a call to the provider (retainOnDelete)");
  });

  it("creates nothing and copies nothing: no resource is added, and Kong's database and login stay as they are", () => {
    expect(changes.filter((c) => c.kind === "added")).toEqual([]);
    // geo-db-kong names both the database and the user.
    const kept = changes.filter((c) => c.urn.endsWith("::geo-db-kong"));
    expect(kept.map((c) => [c.type, c.kind, c.kind === "changed" ? c.fields.map((f) => f.path) : []])).toEqual([
      ["gcp:sql/database:Database", "changed", ["dependencies"]],
      ["gcp:sql/user:User", "changed", ["dependencies"]],
    ]);
  });

  it("rolls every gateway and the migrator onto the new primary: no boot script names the old one", () => {
    const oldHost = new Set(pgHosts(before).map(([, host]) => host));
    const newHosts = pgHosts(after);
    expect(oldHost.size).toBe(1);
    expect(newHosts.map(([name]) => name).sort()).toEqual(pgHosts(before).map(([name]) => name).sort());
    expect(newHosts.filter(([, host]) => oldHost.has(host))).toEqual([]);
    expect(new Set(newHosts.map(([, host]) => host)).size).toBe(1);
    const migrator = after.resources.find((r) => r.name === "geo-migrator-vm")!;
    expect(inputs(migrator).zone).toBe("us-east4-a");
    expect(named(changes, "geo-migrator-vm")?.kind).toBe("replaced");
  });

  it("passes the policy pack", () => {
    expect(checkPolicies(after.resources.map(policyResource))).toEqual([]);
  });

  it("fails back by naming the returned region again: a new replica of the new primary, and nothing else of the database changes", async () => {
    const back = await recordStack("us-multi", { database: { regions: ["us-east4", "us-central1"] } });
    const failback = diffPlans(planOf(after), planOf(back)).filter((c) => c.type.startsWith("gcp:sql/"));
    expect(failback.map((c) => [c.kind, c.urn.split("::").pop()])).toEqual([
      ["added", "geo-db-us-central1"],
      ["changed", "geo-db-kong"],
    ]);
    const replica = inputs(instance(back, "geo-db-us-central1")!);
    // The mock names an instance by its logical name: us-east4's primary is geo-db-us-east4-<suffix>.
    expect([replica.instanceType, replica.masterInstanceName, replica.region]).toEqual(["READ_REPLICA_INSTANCE", expect.stringMatching(/^geo-db-us-east4-[0-9a-f]{7}$/), "us-central1"]);
  });

  it("replaces a second replica of the lost primary by a replica of the new one (a replica cannot change its primary)", async () => {
    const three = await recordStack("us-multi", { database: { regions: ["us-central1", "us-east4", "us-west2"] } });
    const flipped = await recordStack("us-multi", { database: { regions: ["us-east4", "us-west2"] } });
    const sql = diffPlans(planOf(three), planOf(flipped)).filter((c) => c.type === instanceType);
    expect(sql.map((c) => [c.kind, c.urn.split("::").pop()])).toEqual([
      ["removed", "geo-db-us-central1"],
      ["changed", "geo-db-us-east4"],
      ["replaced", "geo-db-us-west2"],
    ]);
  });
});

describe("the policy on Kong's database", () => {
  it("rejects a stack with two primaries, as a failover that forgot the old one would be", async () => {
    const after = await recordStack("us-multi", { database: { regions: ["us-east4"] } });
    const resources = after.resources.map((r) => structuredClone(policyResource(r)));
    resources.push({ ...structuredClone(resources.find((r) => r.name === "geo-db-us-east4")!), name: "geo-db-us-central1" });
    expect(checkPolicies(resources).filter((v) => v.rule === "kong-database-one-primary").map((v) => v.message)).toEqual([
      "2 primaries among the stack's 2 Cloud SQL instances; exactly one may take writes",
      "2 primaries among the stack's 2 Cloud SQL instances; exactly one may take writes",
    ]);
  });

  it("rejects a replica that calls itself a primary", async () => {
    const resources = (await recordStack("us-multi")).resources.map((r) => structuredClone(policyResource(r)));
    resources.find((r) => r.name === "geo-db-us-east4")!.props.instanceType = "CLOUD_SQL_INSTANCE";
    expect(checkPolicies(resources).map((v) => [v.rule, v.resource])).toEqual([["kong-database-one-primary", `${instanceType}::geo-db-us-east4`]]);
  });
});
