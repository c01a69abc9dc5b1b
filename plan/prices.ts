/**
 * The list prices the cost estimate uses (USD). Compute, disks, Cloud NAT, IPs, Cloud Storage and
 * egress come from a vendored snapshot of a machine-readable price list (prices/compute.json,
 * written by scripts/vendor-prices.ts); Cloud SQL, load balancing and Secret Manager are in no
 * such list, so they are written here from Google's pricing pages, as the project's reference
 * (build-and-cost-facts.md) records them. A price looked up where neither has it comes back with
 * the assumption made in its place, never as a silent zero.
 */
import snapshot from "./prices/compute.json";

/** Google bills a month as 730 hours. */
export const hoursPerMonth = 730;

export const priceSources = [
  `compute, disks, Cloud NAT, IPs, Cloud Storage, egress: snapshot of ${snapshot.generated}, ${snapshot.source} (${snapshot.license})`,
  "Cloud SQL, load balancing, Secret Manager: Google's list prices (cloud.google.com/sql/pricing, /vpc/network-pricing#lb, /secret-manager/pricing) as recorded beside that snapshot",
];

export const snapshotDate = snapshot.generated;

/** A price, and what was assumed to get it, where it is not the list price of that place. */
export interface Price {
  usd: number;
  assumption?: string;
}

type Table = Record<string, number>;

const inRegion = (table: Table, region: string): Price | undefined => (table[region] === undefined ? undefined : { usd: table[region] });

/** A machine type's on-demand price per hour in a region; undefined where the snapshot has none. */
export function instanceHour(machineType: string, region: string): Price | undefined {
  const table = (snapshot.instanceHour as Record<string, Table>)[machineType];
  return table && inRegion(table, region);
}

const diskKinds: Record<string, keyof typeof snapshot.diskGbMonth> = { "pd-balanced": "balanced", "pd-ssd": "ssd", "pd-standard": "hdd" };

export function diskGbMonth(diskType: string, region: string): Price | undefined {
  const kind = diskKinds[diskType];
  return kind && inRegion(snapshot.diskGbMonth[kind], region);
}

/** Cloud NAT: per VM-hour up to 32 VMs, the snapshot's gateway price being the cap (32 × the VM rate). */
export function natGatewayHour(region: string): Price | undefined {
  return inRegion(snapshot.natGatewayHour, region);
}
export const natVmsAtCap = 32;

export function natDataGiB(region: string): Price | undefined {
  return inRegion(snapshot.natDataGiB, region);
}

/** An external IPv4 address in use (a NAT gateway's), per hour. */
export function externalIpHour(region: string): Price | undefined {
  return inRegion(snapshot.externalIpHour, region);
}

export function internetEgressGiB(region: string): Price | undefined {
  return inRegion(snapshot.internetEgressGiB, region);
}

/** Cloud Storage Standard per GB-month: a region (`US-CENTRAL1`) or a multi-region (`US`, `EU`, `ASIA`). */
export function bucketGbMonth(location: string): Price | undefined {
  const multi = (snapshot.storageGbMonth["standard-multi"] as Table)[`${location.toLowerCase()}-multi`.replace(/^eu-/, "europe-")];
  if (multi !== undefined) return { usd: multi };
  return inRegion(snapshot.storageGbMonth.standard, location.toLowerCase());
}

/**
 * Cloud SQL for PostgreSQL, Enterprise edition, zonal (HA doubles compute and storage). Google
 * prices it per region; the reference has us-central1's in full and us-east4's memory, so any
 * other price is us-central1's, and the estimate says so.
 */
const cloudSql: Record<string, Partial<Record<"vcpuHour" | "memoryGbHour" | "ssdGbMonth" | "backupGbMonth", number>>> = {
  "us-central1": { vcpuHour: 0.0413, memoryGbHour: 0.007, ssdGbMonth: 0.17, backupGbMonth: 0.08 },
  "us-east4": { memoryGbHour: 0.0075 },
};
const cloudSqlBase = "us-central1";

export function cloudSqlPrice(item: keyof (typeof cloudSql)["us-central1"], region: string): Price {
  const own = cloudSql[region]?.[item];
  if (own !== undefined) return { usd: own };
  return { usd: cloudSql[cloudSqlBase][item]!, assumption: `Cloud SQL ${item} in ${region}: ${cloudSqlBase}'s price (the reference has none for ${region})` };
}

/**
 * Forwarding rules, per location (global, or a region): the first 5 together per hour, then
 * each further rule. The reference states it for the global external Application Load Balancer;
 * Google's page applies the same tiers to every load balancer's rules in a region.
 */
export const forwardingRules = { firstFiveHour: 0.025, eachBeyondHour: 0.01, included: 5 };

/** Load balancer data processing per GiB, in and out (the default region's rate). */
export const lbDataProcessingGiB = 0.008;

/** Secret Manager: per active version and location per month; accesses per 10,000. Before the free tier (6 versions, 10,000 accesses a month per billing account). */
export const secretManager = { versionMonth: 0.06, accessesPer10k: 0.03 };
