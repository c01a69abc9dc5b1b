/**
 * Each region's plan (zones, sizes, subnets) and the address space: subnets that parse, do not
 * overlap and hold every address the stack takes in them. Pure.
 */
import { alignedCidr, formatCidr, nthSubnet, overlaps, parseCidr, reservedRanges } from "./cidr";
import { addressesNeeded, describeDemand, RegionDemand, usableAddresses } from "./capacity";
import { fieldPath, Report } from "./field-path";
import { compactRegionName, defaultRoutePrefix, knownRegions, regionInfo, zonesOf } from "./regions";
import type { ParsedStackConfig } from "./schema";
import type { DatabasePlan, RegionPlan } from "./stack-config";
import type { TopologyRules } from "./topology-rules";

export function resolveRegion(
  parsed: ParsedStackConfig,
  name: string,
  region: ParsedStackConfig["regions"][string],
  rules: TopologyRules,
  err: Report,
): RegionPlan {
  const path = ["regions", name];
  const info = regionInfo(name);
  if (!info) err(path, `unknown region "${name}"; allowed: ${knownRegions.join(", ")}`);
  const allZones = zonesOf(name);
  const zones = region.zones ?? allZones;
  zones.forEach((zone, i) => {
    if (info && !allZones.includes(zone)) err([...path, "zones", i], `"${zone}" is not a zone of ${name}; allowed: ${allZones.join(", ")}`);
    if (zones.indexOf(zone) !== i) err([...path, "zones", i], `"${zone}" is listed twice`);
  });
  const autoscaling = region.autoscaling;
  if (autoscaling && region.size !== undefined) err(path, "only one of [size] and [autoscaling] can be specified");
  if (autoscaling && autoscaling.minReplicas > autoscaling.maxReplicas) {
    err([...path, "autoscaling"], `minReplicas (${autoscaling.minReplicas}) should be <= maxReplicas (${autoscaling.maxReplicas})`);
  }
  if (autoscaling && autoscaling.minReplicas < zones.length) {
    err([...path, "autoscaling", "minReplicas"], `minReplicas (${autoscaling.minReplicas}) should be >= the zone count (${zones.length}) so every zone keeps an instance`);
  }
  if (region.size !== undefined && region.size < zones.length) {
    err([...path, "size"], `size (${region.size}) should be >= the zone count (${zones.length}) so every zone keeps an instance; list fewer zones to run fewer VMs`);
  }
  let subnetCidr = region.subnetCidr;
  const pool = parseCidr(parsed.network.subnetPool);
  // An unreadable pool is reported once, on the pool (checkSubnets), not on every region.
  if (subnetCidr === undefined && info && pool) {
    const subnet = nthSubnet(pool, 20, info.slot);
    if (subnet) subnetCidr = formatCidr(subnet);
    else err([...path, "subnetCidr"], `no default subnet: network.subnetPool (${parsed.network.subnetPool}) has no /20 at slot ${info.slot}; set subnetCidr or use a pool of /12 or larger`);
  }
  let proxySubnetCidr: string | undefined;
  if (rules.proxySubnets && info) {
    const proxyPool = parseCidr(parsed.network.proxySubnetPool);
    const subnet = proxyPool && nthSubnet(proxyPool, 24, info.slot);
    if (subnet) proxySubnetCidr = formatCidr(subnet);
    else if (proxyPool) err(["network", "proxySubnetPool"], `"${parsed.network.proxySubnetPool}" has no /24 at ${name}'s slot ${info.slot}; use a pool of /16 or larger`);
  }
  return {
    name,
    shortName: compactRegionName(name),
    zones,
    size: autoscaling ? undefined : (region.size ?? zones.length),
    autoscaling,
    subnetCidr: subnetCidr ?? "",
    proxySubnetCidr,
    routePrefix: region.routePrefix ?? (info ? defaultRoutePrefix(name) : ""),
  };
}

export function checkSubnets(parsed: ParsedStackConfig, regions: RegionPlan[], rules: TopologyRules, err: Report) {
  const named: { path: PropertyKey[]; text: string }[] = [
    { path: ["network", "subnetPool"], text: parsed.network.subnetPool },
    { path: ["network", "privateServicesRange"], text: parsed.network.privateServicesRange },
    ...regions.filter((r) => r.subnetCidr).map((r) => ({ path: ["regions", r.name, "subnetCidr"], text: r.subnetCidr })),
    ...(rules.proxySubnets ? [{ path: ["network", "proxySubnetPool"], text: parsed.network.proxySubnetPool }] : []),
  ];
  const ranges = named.flatMap(({ path, text }) => {
    const cidr = parseCidr(text);
    if (!cidr) {
      const aligned = alignedCidr(text);
      err(path, `"${text}" is not a network address in CIDR form (host bits must be zero)${aligned ? `; did you mean ${aligned}?` : ""}`);
      return [];
    }
    if (path[1] === "privateServicesRange" && rules.options.includes("database") && cidr.prefixLength > 24) {
      err(path, `"${text}" is smaller than Google's minimum for private services access, a /24; Cloud SQL takes its addresses from this range`);
    }
    if (cidr.prefixLength < 8 || cidr.prefixLength > 29) err(path, `"${text}": prefix length must be between /8 and /29`);
    const reserved = reservedRanges.find((r) => overlaps(cidr, parseCidr(r)!));
    if (reserved) err(path, `"${text}" overlaps the reserved range ${reserved}`);
    return [{ path, text, cidr }];
  });
  // The pool holds the regions' default subnets by design; it only must not overlap the other ranges.
  const isPool = (path: PropertyKey[]) => path[1] === "subnetPool";
  const isRegion = (path: PropertyKey[]) => path[0] === "regions";
  ranges.forEach((a, i) =>
    ranges.slice(i + 1).forEach((b) => {
      if ((isPool(a.path) && isRegion(b.path)) || (isPool(b.path) && isRegion(a.path))) return;
      if (overlaps(a.cidr, b.cidr)) err(b.path, `"${b.text}" overlaps ${fieldPath(a.path)} (${a.text})`);
    }),
  );
}

/** Every region's subnet holds its groups at their largest, their rollout surge and the stack's other addresses. */
export function checkCapacity(parsed: ParsedStackConfig, regions: RegionPlan[], database: DatabasePlan | undefined, rules: TopologyRules, err: Report) {
  const groups = rules.tiers(parsed).length;
  for (const region of regions) {
    const cidr = parseCidr(region.subnetCidr);
    if (!cidr) continue;
    const demand: RegionDemand = {
      groups,
      maxVms: region.autoscaling?.maxReplicas ?? region.size ?? region.zones.length,
      surge: region.zones.length,
      loadBalancerAddresses: rules.internalLoadBalancersPerRegion(parsed),
      otherVms: database?.region === region.name ? 1 : 0,
    };
    const needed = addressesNeeded(demand);
    const usable = usableAddresses(cidr.prefixLength);
    if (needed > usable) {
      const at = region.autoscaling ? ["regions", region.name, "autoscaling", "maxReplicas"] : ["regions", region.name, "subnetCidr"];
      err(at, `the subnet ${region.subnetCidr} has ${usable} usable addresses (GCP reserves 4), but ${region.name} needs ${needed}: ${describeDemand(demand)}; use a larger subnet or fewer VMs`);
    }
  }
}
