/**
 * Writes the compute price snapshot the cost estimate reads (plan/prices/compute.json) from a
 * `pricing.yml` of github.com/Cyclenerd/google-cloud-pricing-cost-calculator (Apache-2.0), which
 * its authors rebuild weekly from the Cloud Billing Catalog API. Keeps what the program can create:
 * x86 machine types without GPUs, in the regions config/regions.ts knows; balanced, SSD and
 * standard persistent disks; Cloud NAT; external IPs; Cloud Storage Standard; internet egress.
 *
 * Run: node -r ./scripts/register-ts.js scripts/vendor-prices.ts PRICING_YML COMMIT
 */
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { knownRegions } from "../config/regions";
import { stableJson } from "../plan/document";

/** Series left out: Arm (refused by config/check-machine.ts) and GPU machines. */
const leftOut = /^(t2a|c4a|n4a|a2|a3|a4|g2|g4)-/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = any;

const perRegion = (cost: Yaml, field: "hour" | "month") =>
  Object.fromEntries(knownRegions.filter((r) => cost?.[r]?.[field] !== undefined).map((r) => [r, cost[r][field]]));

export function computeSnapshot(pricing: Yaml, commit: string) {
  const compute = pricing.compute;
  const machineTypes = Object.keys(compute.instance).filter((t) => !leftOut.test(t)).sort();
  return {
    source: `${pricing.about.url} pricing.yml at ${commit}`,
    generated: new Date(pricing.about.timestamp * 1000).toISOString().slice(0, 10),
    license: "Apache-2.0, Copyright 2022-2025 Nils Knieling",
    instanceHour: Object.fromEntries(machineTypes.map((t) => [t, perRegion(compute.instance[t].cost, "hour")])),
    diskGbMonth: Object.fromEntries(["balanced", "ssd", "hdd"].map((d) => [d, perRegion(compute.storage[d].cost, "month")])),
    natGatewayHour: perRegion(compute.network.nat.gateway.cost, "hour"),
    natDataGiB: perRegion(compute.network.nat.data.cost, "month"),
    externalIpHour: perRegion(compute.network.ip.vm.cost, "hour"),
    /** The first tier (0 to 1 TiB a month) of premium-tier egress to the internet, outside China and Australia. */
    internetEgressGiB: perRegion(compute.network.traffic.egress.internet.cost["0-1"], "month"),
    storageGbMonth: {
      standard: perRegion(pricing.storage.bucket.standard.cost, "month"),
      "standard-multi": Object.fromEntries(Object.entries(pricing.storage.bucket["standard-multi"].cost).map(([k, v]) => [k, (v as Yaml).month])),
    },
  };
}

if (require.main === module) {
  const [file, commit] = process.argv.slice(2);
  if (!file || !commit) throw new Error("usage: vendor-prices.ts PRICING_YML COMMIT");
  const snapshot = computeSnapshot(parse(readFileSync(file, "utf8")), commit);
  // One line per price table (a machine type's regions): reviewable diffs when prices move.
  const oneLinePerTable = stableJson(snapshot).replace(/\{\n([^{}]*)\n\s*\}/g, (_, body: string) => `{ ${body.trim().split(/,\n\s*/).join(", ")} }`);
  writeFileSync(join(__dirname, "..", "plan", "prices", "compute.json"), oneLinePerTable);
}
