/** Kong's Cloud SQL: the primary's and the replicas' regions and zones, a tier that fits the edition. Pure. */
import type { Report } from "./field-path";
import { zonesOf } from "./regions";
import type { ParsedStackConfig } from "./schema";
import type { DatabasePlacement, DatabasePlan } from "./stack-config";

const tierPatterns = {
  ENTERPRISE: { pattern: /^db-(custom-\d+-\d+|f1-micro|g1-small)$/, example: "db-custom-<vCPUs>-<MiB>, db-f1-micro or db-g1-small" },
  ENTERPRISE_PLUS: { pattern: /^db-perf-optimized-N-\d+$/, example: "db-perf-optimized-N-<vCPUs>" },
};

/**
 * Google's rules for `db-custom-<vCPUs>-<MiB>`: 1 vCPU or an even number up to 96; memory a
 * multiple of 256 MiB, at least 3840 MiB, and 0.9 to 6.5 GiB per vCPU.
 */
export function customTierProblem(tier: string): string | undefined {
  const match = /^db-custom-(\d+)-(\d+)$/.exec(tier);
  if (!match) return undefined;
  const [cpus, mib] = [Number(match[1]), Number(match[2])];
  if (cpus < 1 || cpus > 96 || (cpus > 1 && cpus % 2 !== 0)) return `${cpus} vCPUs; allowed: 1 or an even number from 2 to 96`;
  if (mib % 256 !== 0) return `${mib} MiB is not a multiple of 256 MiB`;
  if (mib < 3840) return `${mib} MiB is below the minimum of 3840 MiB`;
  const perCpu = mib / 1024 / cpus;
  if (perCpu < 0.9 || perCpu > 6.5) return `${perCpu.toFixed(2)} GiB per vCPU; allowed: 0.9 to 6.5 GiB per vCPU (${Math.ceil((0.9 * 1024 * cpus) / 256) * 256} to ${Math.floor((6.5 * 1024 * cpus) / 256) * 256} MiB for ${cpus} vCPUs)`;
  return undefined;
}

export function resolveDatabase(parsed: ParsedStackConfig, err: Report): DatabasePlan {
  const { regions: configured, ...settings } = parsed.database;
  const stackRegions = Object.keys(parsed.regions);
  const regions = configured ?? stackRegions.slice(0, 1);
  regions.forEach((region, i) => {
    // A replica must be promotable: the migrator and the gateways of its region need the stack's subnet there.
    if (!(region in parsed.regions)) err(["database", "regions", i], `"${region}" is not one of the stack's regions; allowed: ${stackRegions.join(", ")}`);
    else if (regions.indexOf(region) !== i) err(["database", "regions", i], `"${region}" is named twice; each instance needs a region of its own`);
  });
  const tier = tierPatterns[settings.edition];
  if (!tier.pattern.test(settings.tier)) {
    err(["database", "tier"], `"${settings.tier}" does not fit edition ${settings.edition}; allowed: ${tier.example}`);
  } else {
    const custom = customTierProblem(settings.tier);
    if (custom) err(["database", "tier"], `"${settings.tier}": ${custom}`);
  }
  const [primary, ...replicas] = regions.map(placement);
  return { ...settings, ...primary, replicas };
}

function placement(region: string): DatabasePlacement {
  const zones = zonesOf(region);
  return { region, zone: zones[0] ?? "", secondaryZone: zones[1] ?? "" };
}
