/** The monthly cost estimate: hand-computed figures, every example stack's types accounted for, usage, the diff's cost lines, the README's row. */
import { readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { estimateCost, usageKeys, type CostEstimate } from "../plan/cost";
import { costChanges, renderCostDiffMarkdown, renderEstimate } from "../plan/cost-report";
import { renderDiffMarkdown, type ResourceChange } from "../plan/diff";
import { readUsage } from "../plan/usage";
import { exampleStacks } from "../scripts/outage-table";
import { renderCostRow, stackEstimate } from "../scripts/cost-table";
import { planCommand, projectDir, recordStack } from "./support/stack";

const monthly = (e: CostEstimate, resource: string, item: RegExp) => e.lines.filter((l) => l.resource === resource && item.test(l.item)).reduce((s, l) => s + l.monthly, 0);

describe("a small stack, priced by hand", () => {
  // One region (us-central1, four zones: four VMs), zonal Cloud SQL, no replica.
  const small = { regions: { "us-central1": {} }, database: { regions: ["us-central1"], highAvailability: false } };
  let recordedSmall: Parameters<typeof estimateCost>[0];
  let estimate: CostEstimate;
  beforeAll(async () => {
    recordedSmall = (await recordStack("us-multi", small)).resources;
    estimate = estimateCost(recordedSmall);
  });

  // The list prices, written out here from ../shared/reference/build-and-cost-facts.md and the snapshot, not read from the program.
  it.each([
    ["geo-us-central1-group", /VMs/, 4 * 0.06701142 * 730], // e2-standard-2, us-central1
    ["geo-us-central1-group", /disk/, 4 * 20 * 0.1], // pd-balanced
    ["geo-db-us-central1", /vCPUs, zonal/, 2 * 0.0413 * 730],
    ["geo-db-us-central1", /memory, zonal/, 7.5 * 0.007 * 730], // db-custom-2-7680: 7,680 MB
    ["geo-db-us-central1", /SSD storage, zonal/, 20 * 0.17],
    ["geo-lb-http", /forwarding rule/, 0.025 * 730], // one rule: the first five's price
    ["geo-network-us-central1-nat", /gateway/, 4 * 0.0014 * 730], // per VM-hour below 32 VMs
    ["geo-network-us-central1-nat", /NAT IP/, 0.005 * 730],
    ["geo-db-password", /version/, 0.06],
    ["geo-builds-builder", /disk/, 30 * 0.1], // stopped after its build: the disk only
    ["geo-migrator-vm", /disk/, 10 * 0.1],
  ])("%s %s: %d USD", (resource, item, expected) => {
    expect(monthly(estimate, resource, item)).toBeCloseTo(expected, 1);
  });

  it("totals the lines: $335.75, nothing usage-based without a usage file", () => {
    expect(estimate.total).toBeCloseTo(195.67 + 8 + 60.3 + 38.33 + 3.4 + 18.25 + 4.09 + 3.65 + 0.06 + 3 + 1, 2);
    expect(estimate.usageBased).toBe(0);
  });

  it("an HA primary costs twice the zonal compute and storage", async () => {
    const ha = estimateCost((await recordStack("us-multi", { ...small, database: { regions: ["us-central1"] } })).resources);
    expect(monthly(ha, "geo-db-us-central1", /vCPUs|memory|storage/)).toBeCloseTo(2 * monthly(estimate, "geo-db-us-central1", /vCPUs|memory|storage/), 1);
  });

  it("usage quantities are priced; what the file leaves out is shown as its price per unit", () => {
    const withUsage = estimateCost(recordedSmall, { "geo-lb-http": { dataProcessedGiB: 1000 }, "geo-db-password": { accesses: 50_000 } });
    expect(withUsage.usageBased).toBeCloseTo(1000 * 0.008 + 5 * 0.03, 2);
    const text = renderEstimate(withUsage, "usage/small.yaml", true);
    expect(text).toContain("geo-lb-http.internetEgressGiB: $0.12 per GiB");
    expect(text).not.toContain("geo-lb-http.dataProcessedGiB: $0.008 per GiB");
    expect(text).toMatch(/geo-lb-http +data processed, in and out +us-central1 +1000 GiB × \$0\.008 +\$8\.00/);
  });
  it("an autoscaled group is priced at its minimum, and says so", async () => {
    const scaled = estimateCost((await recordStack("us-multi", { ...small, regions: { "us-central1": { autoscaling: { minReplicas: 5, maxReplicas: 8 } } } })).resources);
    expect(monthly(scaled, "geo-us-central1-group", /VMs/)).toBeCloseTo(5 * 0.06701142 * 730, 1);
    expect(scaled.assumptions.join("\n")).toContain("autoscaler's minimum of 5 VMs");
  });

  it("Cloud NAT stops counting VMs at its cap of 32 per gateway", async () => {
    const large = estimateCost((await recordStack("us-multi", { ...small, regions: { "us-central1": { size: 40 } } })).resources);
    const gateway = large.lines.find((l) => l.resource === "geo-network-us-central1-nat" && /gateway/.test(l.item))!;
    expect(gateway.item).toBe("gateway, 40 VMs (capped at 32)");
    expect(gateway.monthly).toBeCloseTo(0.0448 * 730, 1); // the snapshot's gateway price: 32 × $0.0014
  });

  it("a resource type the table does not know is a line that says it is not counted, not a silent zero", () => {
    const unknown = { urn: "urn:pulumi:s::p::gcp:redis/instance:Instance::cache", type: "gcp:redis/instance:Instance", name: "cache", custom: true, dependencies: [], inputs: {} };
    const withUnknown = estimateCost([...recordedSmall, unknown]);
    const lines = withUnknown.lines.filter((l) => l.resource === "cache");
    expect(lines.map((l) => [l.monthly, l.unitPrice])).toEqual([[0, undefined]]);
    expect(withUnknown.assumptions).toContain("gcp:redis/instance:Instance: no price and no known reason to be free, not counted");
    expect(renderEstimate(withUnknown, "usage/x.yaml", false)).toMatch(/cache +gcp:redis\/instance:Instance +not priced +\$0\.00/);
  });

  it("a machine type the snapshot lacks is not counted, and the estimate says so", async () => {
    const odd = estimateCost((await recordStack("us-multi", { ...small, machineType: "e2-custom-4-8192" })).resources);
    expect(monthly(odd, "geo-us-central1-group", /VMs/)).toBe(0);
    expect(odd.assumptions).toContain("e2-custom-4-8192 in us-central1: not in the price snapshot, not counted");
  });
});

describe("every example stack", () => {
  it.each(Object.values(exampleStacks))("%s: each resource type priced, free for a stated reason, or an assumption", async (stack) => {
    const { resources } = await recordStack(stack);
    const estimate = estimateCost(resources);
    const priced = new Set(estimate.lines.map((l) => l.urn));
    const free = estimate.free.reduce((n, f) => n + f.count, 0);
    expect(priced.size + free).toBe(resources.filter((r) => r.custom).length);
    expect(estimate.free.filter((f) => !f.why)).toEqual([]);
    expect(estimate.lines.filter((l) => l.assumption?.includes("no known reason"))).toEqual([]);
    // Every line has its price but the alerting conditions' (stated): nothing else is "not counted".
    expect(estimate.lines.filter((l) => l.unitPrice === undefined && l.item !== "alerting conditions")).toEqual([]);
    expect(estimate.lines.filter((l) => l.item === "alerting conditions").every((l) => l.assumption?.includes("not counted") && l.quantity > 0)).toBe(true);
    expect(estimate.fixed).toBeGreaterThan(500);
  });

  it("the README's topology table carries each example stack's estimate as the program makes it", async () => {
    const estimates = [];
    for (const stack of Object.values(exampleStacks)) estimates.push(stackEstimate(stack, (await recordStack(stack)).resources));
    expect(readFileSync(join(projectDir, "README.md"), "utf8")).toContain(renderCostRow(estimates));
  });

  it("the shipped usage file fits its stack", async () => {
    const { resources } = await recordStack("us-multi");
    const usage = readUsage(join(projectDir, "usage", "us-multi.yaml"), usageKeys(resources));
    expect(estimateCost(resources, usage).lines.filter((l) => l.usage && !l.usage.set)).toEqual([]);
  });
});

describe("the usage file", () => {
  const keys = new Map([["geo-lb-http", ["dataProcessedGiB", "internetEgressGiB"]]]);
  const file = (text: string) => {
    const path = join(tmpdir(), `usage-${process.pid}-${Math.random()}.yaml`);
    writeFileSync(path, text);
    return path;
  };
  it.each([
    ["resourceUsage:\n  geo-lb-htp: { dataProcessedGiB: 1 }", "resourceUsage.geo-lb-htp: no resource of this stack by that name has usage-based costs; those that do: geo-lb-http (dataProcessedGiB, internetEgressGiB)"],
    ["resourceUsage:\n  geo-lb-http: { dataProcessed: 1 }", "resourceUsage.geo-lb-http.dataProcessed: not a quantity of geo-lb-http; allowed: dataProcessedGiB, internetEgressGiB"],
    ["resourceUsage:\n  geo-lb-http: { dataProcessedGiB: -1 }", "resourceUsage.geo-lb-http.dataProcessedGiB: -1 is not a number ≥ 0"],
    ["resourceUsage:\n  geo-lb-http: { dataProcessedGiB: lots }", 'resourceUsage.geo-lb-http.dataProcessedGiB: "lots" is not a number ≥ 0'],
    ["resourceUsage:\n  geo-lb-http: 5", "resourceUsage.geo-lb-http: must map dataProcessedGiB, internetEgressGiB to monthly quantities"],
    ["usage:\n  geo-lb-http: {}", "the file must be a mapping with one key, resourceUsage"],
  ])("%j is refused naming the field", (text, message) => {
    expect(() => readUsage(file(text), keys)).toThrow(message);
  });

  it("a bad usage file fails the plan with its message, not a stack trace", async () => {
    const result = await planCommand("--stack", "us-dbless", "--out", join(tmpdir(), `plan-${process.pid}`), "--usage", file("resourceUsage:\n  nothing: { x: 1 }"));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^plan failed: .*usage-.*\.yaml:\n {2}resourceUsage\.nothing: no resource of this stack by that name has usage-based costs/m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("the cost in a diff", () => {
  it("a larger machine type: each group's cost before, after and the difference, and the total", async () => {
    const before = estimateCost((await recordStack("us-multi")).resources);
    const after = estimateCost((await recordStack("us-multi", { machineType: "e2-standard-4" })).resources);
    const changes = costChanges(before, after);
    expect(changes.map((c) => c.resource).sort()).toEqual(["geo-us-central1-group", "geo-us-east4-group", "geo-us-west2-group"]);
    // e2-standard-4 in us-central1: $0.13402284 an hour, twice the e2-standard-2's.
    const central = changes.find((c) => c.resource === "geo-us-central1-group")!;
    expect(central.after - central.before).toBeCloseTo(4 * (0.13402284 - 0.06701142) * 730, 1);
    const markdown = renderCostDiffMarkdown(before, after);
    const difference = after.total - before.total;
    expect(markdown).toContain(`**Monthly cost**: $1,016.69 → $${after.total.toLocaleString("en-US", { minimumFractionDigits: 2 })} a month, +$${difference.toFixed(2)}`);
    expect(markdown).toContain(`| \`geo-us-central1-group\` | geo-us-central1 | $203.67 | $${central.after.toFixed(2)} | +$${(central.after - central.before).toFixed(2)} |`);
    expect(markdown).toMatch(/\| \*\*Total\*\* \| \| \$1,016\.69 \|/);
  });

  it("a new region: its group and NAT appear from $0.00, a removed one goes to $0.00", async () => {
    const three = estimateCost((await recordStack("us-dbless")).resources);
    const four = estimateCost((await recordStack("us-dbless", { regions: { "us-west2": {}, "us-central1": {}, "us-east4": {}, "us-east1": {} } })).resources);
    const added = costChanges(three, four).filter((c) => c.before === 0);
    expect(added.map((c) => c.resource).sort()).toEqual(["geo-network-us-east1-nat", "geo-us-east1-group"]);
    expect(costChanges(four, three).filter((c) => c.after === 0).map((c) => c.resource).sort()).toEqual(["geo-network-us-east1-nat", "geo-us-east1-group"]);
  });

  it("`npm run plan --diff` shows the cost before the resources' changes", async () => {
    const out = join(tmpdir(), `cost-diff-${process.pid}`);
    await planCommand("--stack", "us-dbless", "--out", out);
    const stackFile = join(tmpdir(), `Pulumi.us-dbless-${process.pid}.yaml`);
    writeFileSync(stackFile, readFileSync(join(projectDir, "Pulumi.us-dbless.yaml"), "utf8").replace("config:\n", "config:\n  geo-api-layer:machineType: e2-standard-4\n"));
    const result = await planCommand("--stack", "us-dbless", "--stack-file", stackFile, "--out", `${out}-2`, "--diff", join(out, "plan.json"));
    expect(result.status).toBe(2);
    const diff = result.stdout.slice(result.stdout.indexOf("### Offline plan of"));
    expect(diff.indexOf("**Monthly cost**: $602.05 →")).toBeGreaterThan(0);
    expect(diff.indexOf("**Monthly cost**")).toBeLessThan(diff.indexOf("**replaced**"));
  });

  it("puts changes that lose data first, then replacements, removals, updates, additions", () => {
    const changes: ResourceChange[] = [
      { kind: "added", urn: "urn:pulumi:s::p::t::a-added", type: "gcp:compute/firewall:Firewall" },
      { kind: "changed", urn: "urn:pulumi:s::p::t::b-changed", type: "gcp:compute/firewall:Firewall", fields: [] },
      { kind: "removed", urn: "urn:pulumi:s::p::t::c-removed", type: "gcp:compute/firewall:Firewall", retained: false },
      { kind: "replaced", urn: "urn:pulumi:s::p::t::d-replaced", type: "gcp:compute/firewall:Firewall", fields: [] },
      { kind: "removed", urn: "urn:pulumi:s::p::t::e-bucket", type: "gcp:storage/bucket:Bucket", retained: false },
      { kind: "removed", urn: "urn:pulumi:s::p::t::f-retained-db", type: "gcp:sql/databaseInstance:DatabaseInstance", retained: true },
    ];
    const text = renderDiffMarkdown("s", changes);
    const order = ["e-bucket", "d-replaced", "c-removed", "f-retained-db", "b-changed", "a-added"].map((n) => text.indexOf(`\`${n}\``));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(text).toContain("**removed** (**data loss**) `e-bucket`");
    expect(text).not.toContain("(**data loss**) `f-retained-db`");
    expect(text).toContain("1 to add, 1 to change, 1 to replace, 3 to remove (1 losing data)");
  });
});
