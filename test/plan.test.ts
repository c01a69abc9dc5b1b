/** The offline plan: recorder, tree, diff, critical path, diagram and the CLI end to end. */
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import * as pulumi from "@pulumi/pulumi";
import { criticalPath } from "../plan/critical-path";
import { architectureDot } from "../plan/diagram";
import { diffPlans, forcesReplacement, lineDiff, readableName, renderDiffMarkdown } from "../plan/diff";
import { PlanDocument, stableJson, toPlanDocument } from "../plan/document";
import { RecordedResource, recordProgram } from "../plan/record";
import { renderTree } from "../plan/tree";
import { planCommand, projectDir, recordStack } from "./support/stack";

const resource = (name: string, inputs: Record<string, unknown> = {}, extra: Partial<RecordedResource> = {}): RecordedResource => ({
  urn: `urn:pulumi:s::p::t::${name}`,
  type: "t",
  name,
  custom: true,
  dependencies: [],
  inputs,
  ...extra,
});
const plan = (...resources: RecordedResource[]): PlanDocument => toPlanDocument("p", "s", resources);

describe("the recorder", () => {
  it("records parents, explicit and input dependencies, and secrets as [secret]", async () => {
    class Thing extends pulumi.CustomResource {
      constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super("test:index:Thing", name, props, opts);
      }
    }
    class Box extends pulumi.ComponentResource {
      constructor(name: string) {
        super("test:index:Box", name);
        const first = new Thing(`${name}-first`, { secret: pulumi.secret("hunter2") }, { parent: this });
        const second = new Thing(`${name}-second`, { from: first.urn }, { parent: this });
        new Thing(`${name}-third`, {}, { parent: this, dependsOn: [second] });
      }
    }
    const recording = await recordProgram({ project: "p", stack: "s", config: {}, program: () => new Box("box") });
    const [box, first, second, third] = ["box", "box-first", "box-second", "box-third"].map((n) => recording.resources.find((r) => r.name === n)!);
    expect(first.parent).toBe(box.urn);
    expect(first.inputs).toEqual({ secret: "[secret]" });
    expect(second.dependencies).toEqual([first.urn]);
    expect(third.dependencies).toEqual([second.urn]);
    expect(JSON.stringify(recording)).not.toContain("hunter2");
  });

  it("fails loudly on a provider function the plan does not model", async () => {
    const recording = await recordProgram({
      project: "p",
      stack: "s",
      config: {},
      program: () => pulumi.runtime.invoke("gcp:compute/getZones:getZones", {}).catch(() => undefined),
    });
    expect(recording.errors.join()).toContain("the program called gcp:compute/getZones:getZones");
  });
});

describe("the plan document", () => {
  it("is the same text for the same resources in any order", () => {
    const a = resource("a", { z: 1, a: { y: 2, b: 3 } });
    const b = resource("b");
    expect(stableJson(plan(a, b))).toBe(stableJson(plan(b, a)));
    expect(stableJson(plan(a))).toMatch(/"a": \{\n\s+"b": 3,\n\s+"y": 2/);
  });

  it("prints a tree grouped by component", () => {
    const parent = resource("parent", {}, { custom: false, type: "x:index:Component" });
    const tree = renderTree([parent, resource("child-b", {}, { parent: parent.urn }), resource("child-a", {}, { parent: parent.urn })]);
    expect(tree.split("\n").map((l) => l.replace(/\s+/g, " ").trim())).toEqual([
      "+ x:index:Component parent",
      "+ ├─ t child-a",
      "+ └─ t child-b",
      "",
    ]);
  });
});

describe("the diff", () => {
  const before = plan(resource("kept", { size: 3, nested: { list: [1, 2], tier: "small" } }), resource("gone"));
  const after = plan(resource("kept", { size: 3, nested: { list: [1, 5], tier: "large" } }), resource("new"));
  const changes = diffPlans(before, after);

  it("finds added, removed and changed resources, field by field in nested values", () => {
    expect(changes).toEqual([
      { kind: "changed", urn: "urn:pulumi:s::p::t::kept", type: "t", fields: [
        { path: "inputs.nested.list[1]", before: 2, after: 5, forcesReplacement: false },
        { path: "inputs.nested.tier", before: "small", after: "large", forcesReplacement: false },
      ] },
      { kind: "removed", urn: "urn:pulumi:s::p::t::gone", type: "t", retained: false },
      { kind: "added", urn: "urn:pulumi:s::p::t::new", type: "t" },
    ].sort((a, b) => a.urn.localeCompare(b.urn)));
    expect(diffPlans(after, after)).toEqual([]);
  });

  it("renders Markdown for a pull request, with line diffs for scripts", () => {
    const text = renderDiffMarkdown("s", diffPlans(plan(resource("vm", { script: "a\nb\nc" })), plan(resource("vm", { script: "a\nB\nc" }))));
    expect(text).toContain("### Offline plan of `s`: 0 to add, 1 to change, 0 to replace, 0 to remove");
    expect(text).toContain("```diff\n- b\n+ B\n```");
    expect(renderDiffMarkdown("s", [])).toContain("no changes");
    expect(lineDiff("x\ny", "x\ny\nz")).toEqual(["+ z"]);
  });

  it("marks a new instance template as a replacement that rolls every VM, and the group as an update", async () => {
    const old = await recordStack("us-multi");
    const now = await recordStack("us-multi", { machineType: "e2-standard-4" });
    const changes = diffPlans(plan(...old.resources), plan(...now.resources));
    const kinds = Object.fromEntries(changes.map((c) => [c.urn.split("::").pop(), c.kind]));
    expect(kinds["geo-us-east4-template"]).toBe("replaced");
    expect(kinds["geo-us-east4-group"]).toBe("changed");
    const markdown = renderDiffMarkdown("us-multi", changes);
    expect(markdown).toContain("- `inputs.machineType` (forces replacement): `\"e2-standard-2\"` → `\"e2-standard-4\"`");
    expect(markdown).toContain("the group rolls every VM over to it");
    // The group's new version reads as a template name, not a 100-character URL.
    expect(markdown).toMatch(/`inputs\.versions\[0\]\.instanceTemplate`: `"instanceTemplates\/geo-us-east4-[0-9a-f]+ \(us-east4\)"` → `"instanceTemplates\/geo-us-east4-[0-9a-f]+ \(us-east4\)"`/);
  });

  it("marks a ForceNew field of Cloud SQL as a new instance whose data is gone", async () => {
    const old = await recordStack("us-multi");
    // A replica whose primary changes (us-west2 instead of us-central1) is a new replica: masterInstanceName is ForceNew.
    const now = await recordStack("us-multi", { database: { regions: ["us-west2", "us-east4"] } });
    const changes = diffPlans(plan(...old.resources), plan(...now.resources));
    const replica = changes.find((c) => c.urn.endsWith("::geo-db-us-east4"))!;
    expect(replica.kind).toBe("replaced");
    expect(replica.kind === "replaced" && replica.fields.filter((f) => f.forcesReplacement).map((f) => f.path)).toEqual(["inputs.masterInstanceName"]);
    expect(renderDiffMarkdown("us-multi", changes)).toContain("a new Cloud SQL instance: the old one and its data are deleted");
    // An update in place stays an update: the tier is not ForceNew.
    const resized = diffPlans(plan(...old.resources), plan(...(await recordStack("us-multi", { database: { regions: ["us-central1", "us-east4"], tier: "db-custom-4-16384" } })).resources));
    expect(resized.find((c) => c.urn.endsWith("::geo-db-us-central1"))?.kind).toBe("changed");
  });

  it("reads the replacement table from the provider's source, with the fields the program relies on", () => {
    expect(forcesReplacement("gcp:compute/regionInstanceTemplate:RegionInstanceTemplate", "inputs.disks[0].sourceImage")).toBe(true);
    expect(forcesReplacement("gcp:sql/databaseInstance:DatabaseInstance", "inputs.settings.tier")).toBe(false);
    expect(forcesReplacement("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", "inputs.versions[0].instanceTemplate")).toBe(false);
    expect(forcesReplacement("gcp:compute/subnetwork:Subnetwork", "inputs.ipCidrRange")).toBe(false);
    // A whole block added or removed replaces the resource when a field inside it is ForceNew.
    expect(forcesReplacement("gcp:sql/databaseInstance:DatabaseInstance", "inputs.replicaConfiguration")).toBe(true);
    expect(forcesReplacement("gcp:sql/databaseInstance:DatabaseInstance", "inputs.replicaConfiguration.username")).toBe(true);
    // And so does a field the resource names in its replaceOnChanges option.
    expect(forcesReplacement("gcp:compute/instance:Instance", "inputs.metadataStartupScript")).toBe(false);
    expect(forcesReplacement("gcp:compute/instance:Instance", "inputs.metadataStartupScript", ["metadataStartupScript"])).toBe(true);
  });

  it("names resources instead of showing their URLs", () => {
    expect(readableName("https://www.googleapis.com/compute/v1/projects/p/regions/us-east4/instanceGroups/geo-us-east4")).toBe("instanceGroups/geo-us-east4 (us-east4)");
    expect(readableName("https://www.googleapis.com/compute/v1/projects/p/global/backendServices/geo-lb")).toBe("backendServices/geo-lb");
    expect(readableName("//certificatemanager.googleapis.com/projects/p/locations/global/certificateMaps/geo-lb")).toBe("certificateMaps/geo-lb");
    expect(readableName("urn:pulumi:us-multi::geo-api-layer::geo-api-layer:stack:GeoApiLayer$gcp:compute/network:Network::geo-network-vpc")).toBe("Network geo-network-vpc");
    expect(readableName("plain text")).toBe("plain text");
  });

  it("never reveals a secret: both sides show [secret] and a changed secret is no change", async () => {
    const old = await recordStack("us-multi");
    const now = await recordStack("us-multi", { "gcp:project": "another-project" });
    const markdown = renderDiffMarkdown("us-multi", diffPlans(plan(...old.resources), plan(...now.resources)));
    expect(markdown).toContain("another-project");
    expect(markdown).not.toMatch(/mock-password-/);
  });
});

describe("the critical path", () => {
  const node = (name: string, type: string, dependencies: string[] = []) => ({ urn: name, type, dependencies });

  it("takes the heaviest chain, not the longest one", () => {
    const result = criticalPath(
      [node("api", "a"), node("net", "b", ["api"]), node("sql", "slow", ["net"]), node("fw", "b", ["net"]), node("vm", "b", ["fw", "sql"])],
      { a: 60, b: 10, slow: 600 },
    );
    expect(result.totalSeconds).toBe(680);
    expect(result.path.map((n) => n.urn)).toEqual(["api", "net", "sql", "vm"]);
  });

  it("weighs unknown types and components as nothing, and ignores dependencies outside the plan", () => {
    expect(criticalPath([node("c", "component", ["elsewhere"]), node("x", "b", ["c"])], { b: 10 }).totalSeconds).toBe(10);
  });

  it("shows that the us-multi fleet waits for the builds, beside Cloud SQL's primary and not its replica, as the README says", async () => {
    const stack = await recordStack("us-multi");
    const path = criticalPath(stack.resources);
    const names = path.path.map((n) => n.urn.split("::").pop());
    // The builds (15 minutes) outlast Cloud SQL's primary (10), which the templates also wait for;
    // kong.conf names only the primary: the replica is created beside the fleets, not before them.
    expect(names).toEqual(expect.arrayContaining(["geo-builds-builder", "geo-builds-stored", "geo-us-central1-template", "geo-check-routes"]));
    expect(path.path.find((n) => n.urn.endsWith("::geo-builds-stored"))!.seconds).toBe(900);
    const template = stack.resources.find((r) => r.name === "geo-us-central1-template")!;
    const primary = stack.resources.find((r) => r.name === "geo-db-us-central1")!;
    const replica = stack.resources.find((r) => r.name === "geo-db-us-east4")!;
    const upstream = (urn: string, seen = new Set<string>()): Set<string> => {
      for (const dep of stack.resources.find((r) => r.urn === urn)?.dependencies ?? []) if (!seen.has(dep)) upstream(dep, seen.add(dep));
      return seen;
    };
    expect([upstream(template.urn).has(primary.urn), upstream(template.urn).has(replica.urn)]).toEqual([true, false]);
    const readme = readFileSync(join(projectDir, "README.md"), "utf8");
    expect(readme).toContain(`For us-multi the estimate is about ${Math.round(path.totalSeconds / 60)} minutes, 15 of them the builds`);
  });
});

describe("the diagram", () => {
  it("draws every region, the database's primary, standby and replica, and the request path", async () => {
    const dot = architectureDot((await recordStack("us-multi")).resources);
    for (const region of ["us-west2", "us-central1", "us-east4"]) expect(dot).toContain(`cluster_${region.replace(/-/g, "_")} {`);
    expect(dot).toMatch(/db_primary \[label="primary\\nus-central1-a"/);
    expect(dot).toMatch(/db_standby \[label="HA standby\\nus-central1-b"/);
    expect(dot).toMatch(/db_replica_us_east4 \[label="cross-region replica \(HA\)\\nus-east4-a"/);
    expect(dot).toContain("users -> lb");
    expect(dot).toContain("geo_us_east4 -> geo_us_east4_messaging");
  });

  it("draws the pictures bucket and an upload edge from exactly the VMs that may write to it", async () => {
    const standalone = architectureDot((await recordStack("us-standalone")).resources);
    expect(standalone).toMatch(/pictures \[label="Cloud Storage pictures-geo-offline-plan-project\\nlocation US, public read"/);
    expect([...standalone.matchAll(/^ {2}(\S+) -> pictures /gm)].map((m) => m[1]).sort()).toEqual([
      "geo_us_central1_attachments",
      "geo_us_east4_attachments",
      "geo_us_west2_attachments",
    ]);
  });

  it("shows what sets each topology apart: a PostgreSQL on every sidecar VM, a declarative config on every DB-less one", async () => {
    const dots = Object.fromEntries(
      await Promise.all(["us-sidecar", "us-dbless", "us-multi"].map(async (stack) => [stack, architectureDot((await recordStack(stack)).resources)] as const)),
    );
    const count = (dot: string, pattern: RegExp) => [...dot.matchAll(pattern)].length;
    expect(count(dots["us-sidecar"], /_postgres \[label="PostgreSQL on every VM/g)).toBe(3);
    expect(count(dots["us-dbless"], /_config \[label="kong\.yaml\\ndeclarative config/g)).toBe(3);
    expect(dots["us-dbless"]).toMatch(/\[label="Kong \(DB-less\) on every VM/);
    for (const [stack, dot] of Object.entries(dots)) {
      expect([stack, /_postgres \[label=/.test(dot), /_config \[label=/.test(dot)]).toEqual([stack, stack === "us-sidecar", stack === "us-dbless"]);
    }
    expect(dots["us-sidecar"]).not.toBe(dots["us-dbless"]);
  });

  it("has a legend of line styles, ports and routes, internal ones marked, and draws the parts outside the stack", async () => {
    const dot = architectureDot((await recordStack("us-multi")).resources);
    const legendText = /legend \[shape=plaintext, style="", label="([^"]*)"\]/.exec(dot)![1].split("\\n");
    expect(legendText).toEqual(
      expect.arrayContaining([
        "solid: requests",
        "Kong: proxy :8000 (health checks: /geo-api-layer/health), status :8100 and Admin API on loopback only",
        "messaging: :8080",
        "attachments: :8081",
        "  / → messaging",
        "  /upload → attachments (internal: VPC only)",
        "  /ping → attachments",
      ]),
    );
    expect(dot).toMatch(/app_database \[label="The messenger's database \(outside this stack\)\\nmessenger-db\.internal:5433"/);
    expect([...dot.matchAll(/^ {2}(\S+) -> app_database /gm)].map((m) => m[1]).sort()).toEqual([
      "geo_us_central1_messaging",
      "geo_us_east4_messaging",
      "geo_us_west2_messaging",
    ]);
    const standalone = architectureDot((await recordStack("us-standalone")).resources);
    expect(standalone).toContain("routes in us-central1 (each region's under its own prefix):\\n  /api/us/central → messaging\\n  /api/us/central/upload → attachments (internal: VPC only)");
  });

  it("ties edge labels to their edges and merges the regions' edges to the database", async () => {
    const dot = architectureDot((await recordStack("us-multi")).resources);
    expect(dot).toMatch(/^ {2}graph \[.*concentrate=true.*\];$/m);
    expect(dot).toMatch(/^ {2}edge \[.*decorate=true.*\];$/m);
  });

  it("in the README is the one the plan draws today", async () => {
    const dot = architectureDot((await recordStack("us-multi")).resources);
    expect(readFileSync(join(projectDir, "docs", "architecture-us-multi.dot"), "utf8")).toBe(dot);
  });
});

describe("npm run plan", () => {
  // The command itself, as `npm run plan` starts it, where its process matters (exit codes, usage);
  // the same command in this process (pulumi already loaded) for what it prints and writes.
  const spawned = (...args: string[]) =>
    spawnSync("node", ["-r", "./scripts/register-ts.js", "plan/cli.ts", ...args], { cwd: projectDir, encoding: "utf8" });
  const run = planCommand;
  const out = mkdtempSync(join(tmpdir(), "plan-"));

  it("prints the tree and a wrapped summary, progress on stderr, and writes plan, files and an SVG diagram", async () => {
    const result = await run("--out", out);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Resources: \d+ to create/);
    const summary = result.stdout.slice(result.stdout.indexOf("Resources:"), result.stdout.indexOf("Critical path"));
    expect(summary.split("\n").length).toBeGreaterThan(3);
    for (const line of summary.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    expect(result.stderr).toMatch(/^planning stack us-multi under the mock runtime…\nrecorded \d+ resources in [\d.]+ s;/);
    expect(result.stdout).toContain("Critical path: about");
    expect(readFileSync(join(out, "architecture.svg"), "utf8")).toContain("<svg");
    expect(readFileSync(join(out, "vms", "geo-us-east4-template", "files", "etc", "kong", "kong.conf"), "utf8")).toContain("admin_listen = 127.0.0.1:8001");
    expect(JSON.parse(readFileSync(join(out, "plan.json"), "utf8")).stack).toBe("us-multi");
  });

  it("exits 0 when nothing changed (2 when something did: below, with a modified copy)", () => {
    const result = spawned("--out", join(out, "again"), "--diff", join(out, "plan.json"));
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("### Offline plan of `us-multi`: no changes");
  });

  it("rejects an unknown flag with its usage, and prints the usage with exit 0 when asked", () => {
    const result = spawned("--stak", "x");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('unknown argument "--stak"');
    expect(result.stderr).toContain("usage: npm run plan");
    const help = spawned("--help");
    expect({ status: help.status, stderr: help.stderr }).toEqual({ status: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: npm run plan/);
  });

  it("names the stacks that exist for an unknown one, and fails on a missing --diff file before planning", () => {
    const unknown = spawned("--stack", "us-mult");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('unknown stack "us-mult": no Pulumi.us-mult.yaml beside Pulumi.yaml; stacks here: us-dbless, us-hybrid, us-multi, us-sidecar, us-standalone');
    const missing = spawned("--out", join(out, "never"), "--diff", join(out, "no-such-plan.json"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("no-such-plan.json: no such file");
    expect(missing.stderr).not.toContain("planning stack");
  });

  it("diffs a modified copy against its default output's own plan, resource by resource", async () => {
    const work = mkdtempSync(join(tmpdir(), "plan-copy-"));
    const copy = join(work, "Pulumi.envchange.yaml");
    writeFileSync(copy, readFileSync(join(projectDir, "Pulumi.us-multi.yaml"), "utf8"));
    expect((await run("--stack-file", copy, "--stack", "us-multi")).status).toBe(0);
    // The default output sits beside the copy, not over the original's.
    const previous = join(work, "plan-output", "us-multi", "plan.json");
    expect(JSON.parse(readFileSync(previous, "utf8")).stack).toBe("us-multi");
    writeFileSync(copy, readFileSync(copy, "utf8").replace("config:\n", "config:\n  geo-api-layer:machineType: e2-standard-4\n"));
    const result = await run("--stack-file", copy, "--stack", "us-multi", "--diff", previous);
    expect(result.status).toBe(2);
    expect(result.stdout).toContain("0 to add, 4 to change, 3 to replace, 0 to remove");
  });


});
