/**
 * Turns a stack's raw config into a fully resolved `StackConfig`, or into every error at once.
 * Pure: no Pulumi, no I/O, so it runs before any resource is registered and in plain unit tests.
 */
import { z } from "zod";
import { formatCidr, nthSubnet, overlaps, parseCidr, reservedRanges } from "./cidr";
import { maxResourceName, maxTemplatePrefix, serviceAccountIdPattern, tierAccountId, tierName } from "./naming";
import { compactRegionName, defaultRoutePrefix, knownRegions, regionInfo, zonesOf } from "./regions";
import { checkMessengerNeeds, picturesBucketPrefix } from "./messenger";
import { bucketLocations, ParsedStackConfig, ServiceConfig, StackConfigSchema } from "./schema";

export type Topology = ParsedStackConfig["topology"];

/** Topologies whose Kong keeps its entities in the shared Cloud SQL database. */
export function usesCloudSql(topology: Topology): boolean {
  return topology === "shared-db" || topology === "standalone";
}

/** Config key namespace, equal to the project name in Pulumi.yaml. */
export const configNamespace = "geo-api-layer";

/** Kong's own listeners on every VM; no service may take these ports. */
export const kongAdminPort = 8001;

export interface RegionPlan {
  readonly name: string;
  /** Short form for names with tight limits (`us-c1`). */
  readonly shortName: string;
  readonly zones: string[];
  /** Fixed group size; undefined when an autoscaler sizes the group. */
  readonly size?: number;
  readonly autoscaling?: { minReplicas: number; maxReplicas: number; cpuTarget: number };
  readonly subnetCidr: string;
  /** standalone: the proxy-only subnet of the entry tier's internal Application Load Balancer. */
  readonly proxySubnetCidr?: string;
  /** Prefix of this region's routes in standalone, e.g. `/api/us/east`. */
  readonly routePrefix: string;
}

export interface DatabasePlan extends Omit<ParsedStackConfig["database"], "region" | "replicaRegion"> {
  readonly region: string;
  readonly zone: string;
  /** Zone of the HA standby. */
  readonly secondaryZone: string;
  readonly replica?: { region: string; zone: string };
}

export interface PicturesPlan {
  /** Starts with the prefix Attachments looks for; unique by project. */
  readonly bucketName: string;
  readonly location: (typeof bucketLocations)[number];
  /** The service whose VMs write pictures. */
  readonly service: ServiceConfig;
  readonly publicRead: boolean;
}

export interface StackConfig extends Omit<ParsedStackConfig, "regions" | "database" | "entryService" | "pictures"> {
  /** The GCP project (`gcp:project`). */
  readonly project: string;
  readonly regions: RegionPlan[];
  /** Kong's Cloud SQL; undefined for topologies without one (sidecar, dbless). */
  readonly database?: DatabasePlan;
  /** standalone: the service the global load balancer fronts. */
  readonly entryService: ServiceConfig;
  /** The pictures bucket; undefined when no service stores pictures. */
  readonly pictures?: PicturesPlan;
}

export type ValidationResult = { ok: true; config: StackConfig } | { ok: false; errors: string[] };

/**
 * @param raw the stack's config values of this project's namespace, keys without the namespace
 * @param project the value of `gcp:project`
 */
export function validateStackConfig(raw: Record<string, unknown>, project: string | undefined): ValidationResult {
  const errors: string[] = [];
  if (!project) errors.push("gcp:project: not set; run `pulumi config set gcp:project <project-id>`");
  const parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    errors.push(...parsed.error.issues.flatMap((issue) => formatIssue(issue, raw)));
    return { ok: false, errors };
  }
  const config = resolve(parsed.data, raw, project ?? "", errors);
  return errors.length === 0 ? { ok: true, config } : { ok: false, errors };
}

function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeysAt(StackConfigSchema, issue.path);
    return issue.keys.map((key) => `${fieldPath([...issue.path, key])}: unknown setting; allowed here: ${allowed.join(", ")}`);
  }
  if (issue.code === "invalid_key") {
    // The key is the bad value; the key schema's own message says what is allowed.
    const key = issue.path[issue.path.length - 1];
    return [`${fieldPath(issue.path)}: ${issue.issues[0]?.message ?? issue.message} (got key ${JSON.stringify(key)})`];
  }
  const value = valueAt(raw, issue.path);
  const got = value === undefined ? "" : ` (got ${JSON.stringify(value)})`;
  return [`${fieldPath(issue.path)}: ${issue.message}${got}`];
}

/** The settings an object in the schema accepts at `path`, for "unknown setting" messages. */
function allowedKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const def = (schema as any)._zod.def;
  if (["default", "prefault", "optional", "nullable", "pipe"].includes(def.type)) return allowedKeysAt(def.innerType ?? def.in, path);
  if (def.type === "union") return [...new Set(def.options.flatMap((o: z.core.$ZodType) => allowedKeysAt(o, path)))] as string[];
  const [head, ...rest] = path;
  if (def.type === "object") return head === undefined ? Object.keys(def.shape) : def.shape[head as string] ? allowedKeysAt(def.shape[head as string], rest) : [];
  if (def.type === "record") return allowedKeysAt(def.valueType, rest);
  if (def.type === "array") return allowedKeysAt(def.element, rest);
  return [];
}

function fieldPath(path: readonly PropertyKey[]): string {
  const rest = path.map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`)).join("");
  return `${configNamespace}:${rest.replace(/^\./, "")}`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = raw;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return typeof value === "object" ? undefined : value;
}

function resolve(parsed: ParsedStackConfig, raw: Record<string, unknown>, project: string, errors: string[]): StackConfig {
  const err = (path: PropertyKey[], message: string) => errors.push(`${fieldPath(path)}: ${message}`);
  const regions = Object.entries(parsed.regions).map(([name, region]) => resolveRegion(parsed, name, region, err));
  checkSubnets(parsed, regions, err);
  checkServices(parsed, err);
  const entryService = checkTopology(parsed, raw, regions, err);
  checkNames(parsed, regions, err);
  const database = usesCloudSql(parsed.topology) ? resolveDatabase(parsed, err) : undefined;
  checkMessengerNeeds(parsed, err);
  const pictures = resolvePictures(parsed, regions, project, err);
  const { entryService: _entry, pictures: _pictures, ...rest } = parsed;
  return { ...rest, project, regions, database, entryService, pictures };
}

/** The multi-region that holds every region named with each prefix. */
const multiRegions: Record<string, (typeof bucketLocations)[number]> = { us: "US", northamerica: "US", europe: "EU", asia: "ASIA" };
const maxBucketName = 63;

function resolvePictures(parsed: ParsedStackConfig, regions: RegionPlan[], project: string, err: Report): PicturesPlan | undefined {
  if (!parsed.pictures) return undefined;
  const { service: serviceName, publicRead } = parsed.pictures;
  const service = parsed.services.find((s) => s.name === serviceName);
  if (!service) err(["pictures", "service"], `${JSON.stringify(serviceName)} is not a service; allowed: ${parsed.services.map((s) => s.name).join(", ")}`);
  const derived = [...new Set(regions.map((r) => multiRegions[r.name.split("-")[0]]))];
  const location = parsed.pictures.location ?? (derived.length === 1 ? derived[0] : undefined);
  if (!location) {
    err(["pictures", "location"], `required: the regions ${regions.map((r) => r.name).join(", ")} are not all in one multi-region; allowed: ${bucketLocations.join(", ")}`);
  }
  const bucketName = `${picturesBucketPrefix}-${parsed.prefix}-${project}`;
  if (bucketName.length > maxBucketName) err(["prefix"], `makes the bucket name "${bucketName}" (${bucketName.length} characters); Cloud Storage allows ${maxBucketName}`);
  return service && location ? { bucketName, location, service, publicRead } : undefined;
}

/** Every per-region name the components will build, against GCP's length and character rules. */
function checkNames(parsed: ParsedStackConfig, regions: RegionPlan[], err: Report) {
  const tiers: { tier?: string; path: PropertyKey[] }[] =
    parsed.topology === "standalone"
      ? [{ tier: "kong", path: ["prefix"] }, ...parsed.services.map((s, i) => ({ tier: s.name, path: ["services", i, "name"] }))]
      : [{ path: ["prefix"] }];
  for (const region of regions) {
    for (const { tier, path } of tiers) {
      const name = tierName(parsed.prefix, region.name, tier);
      const longest = `${name}-autoheal`;
      if (longest.length > maxResourceName) err(path, `makes the name "${longest}" (${longest.length} characters); GCP allows ${maxResourceName}`);
      if (`${name}-`.length > maxTemplatePrefix) err(path, `makes the template prefix "${name}-" longer than ${maxTemplatePrefix} characters`);
      const account = tierAccountId(parsed.prefix, region.name, tier);
      if (!serviceAccountIdPattern.test(account)) {
        err(path, `makes the service account id "${account}"; ids are 6 to 30 lowercase letters, digits and hyphens`);
      }
    }
  }
}

/** Options that only some topologies accept; anything else is rejected, naming the topology. */
function checkTopology(parsed: ParsedStackConfig, raw: Record<string, unknown>, regions: RegionPlan[], err: Report): ServiceConfig {
  const { topology } = parsed;
  const onlyFor = (path: PropertyKey[], allowed: string) =>
    err(path, `applies to the ${allowed} topolog${allowed.includes(" and ") ? "ies" : "y"} only; this stack's topology is ${topology}`);
  if (raw.database !== undefined && !usesCloudSql(topology)) onlyFor(["database"], "shared-db and standalone");
  if (topology !== "standalone") {
    if (parsed.entryService !== undefined) onlyFor(["entryService"], "standalone");
    Object.entries(parsed.regions).forEach(([name, r]) => r.routePrefix !== undefined && onlyFor(["regions", name, "routePrefix"], "standalone"));
  } else {
    parsed.services.forEach((service, i) => {
      if (service.name === "kong") err(["services", i, "name"], `"kong" names standalone's Kong tier; choose another service name`);
    });
    const owners = new Map<string, string>();
    for (const region of regions) {
      const owner = owners.get(region.routePrefix);
      if (owner) err(["regions", region.name, "routePrefix"], `"${region.routePrefix}" is also ${owner}'s route prefix; set a distinct routePrefix`);
      owners.set(region.routePrefix, region.name);
    }
  }
  const entry = parsed.services.find((s) => s.name === (parsed.entryService ?? parsed.services[0]?.name));
  if (!entry) err(["entryService"], `"${parsed.entryService}" is not a service; allowed: ${parsed.services.map((s) => s.name).join(", ")}`);
  return entry ?? parsed.services[0];
}

export type Report = (path: PropertyKey[], message: string) => void;

function resolveRegion(
  parsed: ParsedStackConfig,
  name: string,
  region: ParsedStackConfig["regions"][string],
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
  if (subnetCidr === undefined && info) {
    const pool = parseCidr(parsed.network.subnetPool);
    const subnet = pool && nthSubnet(pool, 20, info.slot);
    if (subnet) subnetCidr = formatCidr(subnet);
    else err([...path, "subnetCidr"], `no default subnet: network.subnetPool (${parsed.network.subnetPool}) has no /20 at slot ${info.slot}; set subnetCidr or use a pool of /12 or larger`);
  }
  let proxySubnetCidr: string | undefined;
  if (parsed.topology === "standalone" && info) {
    const pool = parseCidr(parsed.network.proxySubnetPool);
    const subnet = pool && nthSubnet(pool, 24, info.slot);
    if (subnet) proxySubnetCidr = formatCidr(subnet);
    else if (pool) err(["network", "proxySubnetPool"], `"${parsed.network.proxySubnetPool}" has no /24 at ${name}'s slot ${info.slot}; use a pool of /16 or larger`);
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

function checkSubnets(parsed: ParsedStackConfig, regions: RegionPlan[], err: Report) {
  const named: { path: PropertyKey[]; text: string }[] = [
    { path: ["network", "privateServicesRange"], text: parsed.network.privateServicesRange },
    ...regions.filter((r) => r.subnetCidr).map((r) => ({ path: ["regions", r.name, "subnetCidr"], text: r.subnetCidr })),
    ...(parsed.topology === "standalone" ? [{ path: ["network", "proxySubnetPool"], text: parsed.network.proxySubnetPool }] : []),
  ];
  const ranges = named.flatMap(({ path, text }) => {
    const cidr = parseCidr(text);
    if (!cidr) {
      err(path, `"${text}" is not a network address in CIDR form (host bits must be zero)`);
      return [];
    }
    if (cidr.prefixLength < 8 || cidr.prefixLength > 29) err(path, `"${text}": prefix length must be between /8 and /29`);
    const reserved = reservedRanges.find((r) => overlaps(cidr, parseCidr(r)!));
    if (reserved) err(path, `"${text}" overlaps the reserved range ${reserved}`);
    return [{ path, text, cidr }];
  });
  ranges.forEach((a, i) =>
    ranges.slice(i + 1).forEach((b) => {
      if (overlaps(a.cidr, b.cidr)) err(b.path, `"${b.text}" overlaps ${fieldPath(a.path)} (${a.text})`);
    }),
  );
}

function checkServices(parsed: ParsedStackConfig, err: Report) {
  const firstUse = new Map<string, string>();
  const claim = (kind: string, key: string | number, path: PropertyKey[], owner = fieldPath(path)) => {
    const earlier = firstUse.get(`${kind}:${key}`);
    if (earlier) err(path, `${kind} ${JSON.stringify(key)} is already used by ${earlier}`);
    else firstUse.set(`${kind}:${key}`, owner);
  };
  claim("port", kongAdminPort, ["kong"], "Kong's Admin API (loopback)");
  claim("port", parsed.kong.proxyPort, ["kong", "proxyPort"]);
  claim("port", parsed.kong.statusPort, ["kong", "statusPort"]);
  parsed.services.forEach((service: ServiceConfig, s) => {
    const path: PropertyKey[] = ["services", s];
    claim("service name", service.name, [...path, "name"]);
    claim("port", service.port, [...path, "port"]);
    service.routes.forEach((route, r) => {
      claim("route name", route.name, [...path, "routes", r, "name"]);
      route.paths.forEach((p, i) => claim("route path", normalizePath(p), [...path, "routes", r, "paths", i]));
    });
  });
}

/** `/upload/` and `/upload` match the same requests in Kong. */
function normalizePath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

const tierPatterns = {
  ENTERPRISE: { pattern: /^db-(custom-\d+-\d+|f1-micro|g1-small)$/, example: "db-custom-<vCPUs>-<MiB>, db-f1-micro or db-g1-small" },
  ENTERPRISE_PLUS: { pattern: /^db-perf-optimized-N-\d+$/, example: "db-perf-optimized-N-<vCPUs>" },
};

function resolveDatabase(parsed: ParsedStackConfig, err: Report): DatabasePlan {
  const { region: configuredRegion, replicaRegion, ...settings } = parsed.database;
  const region = configuredRegion ?? Object.keys(parsed.regions)[0];
  const zones = zonesOf(region);
  if (!(region in parsed.regions)) {
    err(["database", "region"], `"${region}" is not one of the stack's regions; allowed: ${Object.keys(parsed.regions).join(", ")}`);
  }
  const tier = tierPatterns[settings.edition];
  if (!tier.pattern.test(settings.tier)) {
    err(["database", "tier"], `"${settings.tier}" does not fit edition ${settings.edition}; allowed: ${tier.example}`);
  }
  let replica: DatabasePlan["replica"];
  if (replicaRegion !== undefined) {
    const replicaZones = zonesOf(replicaRegion);
    if (replicaZones.length === 0) err(["database", "replicaRegion"], `unknown region "${replicaRegion}"; allowed: ${knownRegions.join(", ")}`);
    if (replicaRegion === region) err(["database", "replicaRegion"], `"${replicaRegion}" is the primary's region; a cross-region replica needs another`);
    replica = { region: replicaRegion, zone: replicaZones[0] ?? "" };
  }
  return { ...settings, region, zone: zones[0] ?? "", secondaryZone: zones[1] ?? "", replica };
}
