/**
 * What the second `pulumi up`, a replacement and a `pulumi destroy` do, read from what the whole
 * program registers for each example stack (resource options included): the failures that only
 * show after the first deployment.
 */
import { diffPlans } from "../plan/diff";
import { toPlanDocument } from "../plan/document";
import type { Recording } from "../plan/record";
import { exampleStacks } from "../scripts/outage-table";
import { inputs, ofType, recordStack } from "./support/stack";
import { onCloudSql } from "./support/topologies";

const stacks: Record<string, Recording> = {};
beforeAll(async () => {
  for (const [topology, stack] of Object.entries(exampleStacks)) stacks[topology] = await recordStack(stack);
});

const plan = (recording: Recording) => toPlanDocument("geo-api-layer", "s", recording.resources);

describe.each(Object.entries(exampleStacks))("the %s example stack (%s)", (topology, stack) => {
  it("leaves the disk size to Cloud SQL once it grows it: the next update would try to shrink it and fail", () => {
    const instances = ofType(stacks[topology], "gcp:sql/databaseInstance:DatabaseInstance");
    for (const instance of instances) {
      expect(inputs(instance).settings.diskAutoresize).toBe(true);
      // terraform-provider-google's sql_database_instance docs: ignore disk_size changes with disk_autoresize.
      expect([instance.name, instance.options?.ignoreChanges]).toEqual([instance.name, expect.arrayContaining(["settings.diskSize"])]);
    }
    expect(instances.length).toBe(onCloudSql(topology) ? 2 : 0);
  });

  it("leaves every API on at `pulumi destroy`: other workloads of the project use them too", () => {
    const apis = ofType(stacks[topology], "gcp:projects/service:Service");
    expect(apis.length).toBeGreaterThan(5);
    for (const api of apis) expect([inputs(api).service, inputs(api).disableOnDestroy]).toEqual([inputs(api).service, false]);
  });

  it("deletes before it replaces what keeps a fixed name, so a new Kong version or route table can roll out", async () => {
    const next = await recordStack(stack, { kong: { version: "3.9.0" } });
    const replaced = diffPlans(plan(stacks[topology]), plan(next)).filter((c) => c.kind === "replaced");
    expect(replaced.length).toBeGreaterThan(0);
    const before = new Map(stacks[topology].resources.map((r) => [r.urn, r]));
    const after = new Map(next.resources.map((r) => [r.urn, r]));
    const fixedName = replaced.filter(({ urn }) => inputs(after.get(urn)!).name !== undefined && inputs(after.get(urn)!).name === inputs(before.get(urn)!).name);
    // Google refuses a second resource with the name; Pulumi creates the replacement first unless told.
    for (const { urn } of fixedName) expect([urn, after.get(urn)!.options?.deleteBeforeReplace]).toEqual([urn, true]);
    expect(fixedName.length).toBe(onCloudSql(topology) ? 1 : 0);
  });
});
