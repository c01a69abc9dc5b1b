/**
 * Turns a stack's raw config into a fully resolved `StackConfig`, or into every error at once.
 * Pure: no Pulumi, no I/O, so it runs before any resource is registered and in plain unit tests.
 */
import { z } from "zod";
import { alignedCidr, formatCidr, nthSubnet, overlaps, parseCidr, reservedRanges } from "./cidr";
import { maxResourceName, maxTemplatePrefix, serviceAccountIdPattern, tierAccountId, tierName } from "./naming";
import { compactRegionName, defaultRoutePrefix, knownRegions, regionInfo, zonesOf } from "./regions";
import { checkMessengerNeeds, picturesBucketPrefix } from "./messenger";
import { bucketLocations, ParsedStackConfig, ServiceConfig, StackConfigSchema } from "./schema";
import { addressesNeeded, describeDemand, RegionDemand, usableAddresses } from "./capacity";
import { isSecretName, secretShape } from "./secret-shapes";
import { kongConfSettings } from "../startup/kong-conf";
import { serviceUnitName, serviceUser } from "../startup/systemd";
import { variablesOfEveryService } from "../startup/startup-script";

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
/** What the Pulumi CLI knows beside this project's config. */
export interface StackContext {
  /** The stack's name: its resources' `stack` label. */
  stack?: string;
  /** Config keys of other namespaces (`gcp:region`), checked for misspellings of this project's. */
  foreignKeys?: string[];
}

/** Google's project ids: 6 to 30 lowercase letters, digits and hyphens, starting with a letter. */
const projectIdPattern = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/** Namespaces a stack file may hold besides this project's: the providers the program uses, and Pulumi's own. */
const knownNamespaces = ["gcp", "random", "command", "pulumi"];

/**
 * @param raw the stack's config values of this project's namespace, keys without the namespace
 * @param project the value of `gcp:project`
 */
export function validateStackConfig(raw: Record<string, unknown>, project: string | undefined, context: StackContext = {}): ValidationResult {
  const errors: string[] = [];
  if (!project) errors.push("gcp:project: not set; run `pulumi config set gcp:project <project-id>`");
  else if (!projectIdPattern.test(project)) {
    errors.push(`gcp:project: ${JSON.stringify(project)} is not a project id; ids are 6 to 30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen`);
  }
  errors.push(...foreignKeyErrors(context.foreignKeys ?? []));
  if (context.stack !== undefined && context.stack.length > maxLabelValue) {
    errors.push(`stack name "${context.stack}": ${context.stack.length} characters; it is every resource's \`stack\` label, and label values allow ${maxLabelValue}`);
  }
  let parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    errors.push(...issues.flatMap((issue) => formatIssue(issue, raw)));
    // Cross-field errors too, all at once: check the rest with the bad values left out (their
    // defaults apply), unless leaving them out breaks the config further.
    parsed = StackConfigSchema.safeParse(withoutPaths(raw, issues));
    if (!parsed.success) return { ok: false, errors };
  }
  const config = resolve(parsed.data, raw, project ?? "", errors);
  return errors.length === 0 ? { ok: true, config } : { ok: false, errors: [...new Set(errors)] };
}

const maxLabelValue = 63;

/** `raw` without the values the issues point at (unknown keys removed). */
function withoutPaths(raw: Record<string, unknown>, issues: z.core.$ZodIssue[]): Record<string, unknown> {
  const copy = structuredClone(raw);
  const remove = (path: readonly PropertyKey[]) => {
    let parent: unknown = copy;
    for (const key of path.slice(0, -1)) parent = parent && typeof parent === "object" ? (parent as Record<PropertyKey, unknown>)[key] : undefined;
    if (parent && typeof parent === "object" && !Array.isArray(parent)) delete (parent as Record<PropertyKey, unknown>)[path[path.length - 1]];
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") issue.keys.forEach((key) => remove([...issue.path, key]));
    else if (issue.path.length) remove(issue.path);
  }
  return copy;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

function nearest(word: string, candidates: string[]): string | undefined {
  const [best] = [...candidates].sort((x, y) => distance(word, x) - distance(word, y));
  return best !== undefined && distance(word, best) <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Keys of namespaces no one reads, such as `geo_api_layer:machineType`: silently ignored otherwise. */
function foreignKeyErrors(keys: string[]): string[] {
  const ours = Object.keys(StackConfigSchema.shape).map((key) => `${configNamespace}:${key}`);
  return keys
    .filter((key) => !knownNamespaces.includes(key.split(":")[0]))
    .map((key) => {
      const guess = nearest(key, ours);
      return `${key}: unknown namespace "${key.split(":")[0]}"; nothing reads this key${guess ? `; did you mean ${guess}?` : ""} (namespaces read: ${[configNamespace, ...knownNamespaces].join(", ")})`;
    });
}

function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeysAt(StackConfigSchema, issue.path);
    return issue.keys.map((key) => {
      const guess = nearest(key, allowed);
      return `${fieldPath([...issue.path, key])}: unknown setting${guess ? `; did you mean ${guess}?` : ""}; allowed here: ${allowed.join(", ")}`;
    });
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
  checkServiceValues(parsed, err);
  const entryService = checkTopology(parsed, raw, regions, err);
  checkNames(parsed, regions, err);
  checkMachine(parsed, err);
  const database = usesCloudSql(parsed.topology) ? resolveDatabase(parsed, err) : undefined;
  checkCapacity(parsed, regions, database, err);
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
    const entryIndex = parsed.services.findIndex((s) => s.name === (parsed.entryService ?? parsed.services[0]?.name));
    parsed.services[entryIndex]?.routes.forEach((route, r) => {
      if (route.internal) {
        err(["services", entryIndex, "routes", r, "internal"], `the entry service ${parsed.services[entryIndex].name} faces the global load balancer directly, which would serve this VPC-only route without Kong's ip-restriction; make another service the entryService, or move the route`);
      }
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
  const pool = parseCidr(parsed.network.subnetPool);
  // An unreadable pool is reported once, on the pool (checkSubnets), not on every region.
  if (subnetCidr === undefined && info && pool) {
    const subnet = nthSubnet(pool, 20, info.slot);
    if (subnet) subnetCidr = formatCidr(subnet);
    else err([...path, "subnetCidr"], `no default subnet: network.subnetPool (${parsed.network.subnetPool}) has no /20 at slot ${info.slot}; set subnetCidr or use a pool of /12 or larger`);
  }
  let proxySubnetCidr: string | undefined;
  if (parsed.topology === "standalone" && info) {
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

function checkSubnets(parsed: ParsedStackConfig, regions: RegionPlan[], err: Report) {
  const named: { path: PropertyKey[]; text: string }[] = [
    { path: ["network", "subnetPool"], text: parsed.network.subnetPool },
    { path: ["network", "privateServicesRange"], text: parsed.network.privateServicesRange },
    ...regions.filter((r) => r.subnetCidr).map((r) => ({ path: ["regions", r.name, "subnetCidr"], text: r.subnetCidr })),
    ...(parsed.topology === "standalone" ? [{ path: ["network", "proxySubnetPool"], text: parsed.network.proxySubnetPool }] : []),
  ];
  const ranges = named.flatMap(({ path, text }) => {
    const cidr = parseCidr(text);
    if (!cidr) {
      const aligned = alignedCidr(text);
      err(path, `"${text}" is not a network address in CIDR form (host bits must be zero)${aligned ? `; did you mean ${aligned}?` : ""}`);
      return [];
    }
    if (path[1] === "privateServicesRange" && usesCloudSql(parsed.topology) && cidr.prefixLength > 24) {
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

/**
 * Ports Kong listens on, from the kong.conf the stack renders (every `*_listen` setting that is not
 * off), and the local PostgreSQL's in sidecar: no service may take one.
 */
export function reservedPorts(parsed: ParsedStackConfig): { port: number; owner: string; path: PropertyKey[] }[] {
  const settings = kongConfSettings({
    ...parsed.kong,
    adminPort: kongAdminPort,
    trustedIps: [],
    database: parsed.topology === "dbless" ? undefined : { host: "127.0.0.1", verifiedTls: false },
  });
  const listeners = settings
    .filter(([key, value]) => key.endsWith("_listen") && value !== "off")
    .flatMap(([key, value]) =>
      value.split(",").map((address) => {
        const path = key === "proxy_listen" ? ["kong", "proxyPort"] : key === "status_listen" ? ["kong", "statusPort"] : ["kong"];
        const owner = key === "admin_listen" ? "Kong's Admin API (loopback)" : path.length > 1 ? fieldPath(path) : `Kong's ${key} in kong.conf`;
        return { port: Number(/:(\d+)/.exec(address)![1]), owner, path };
      }),
    );
  const postgres = parsed.topology === "sidecar" ? [{ port: 5432, owner: "the sidecar's PostgreSQL", path: ["topology"] }] : [];
  // Fixed ports first, so a collision is blamed on the setting a user chose.
  const fixed = (p: { path: PropertyKey[] }) => (p.path.length === 1 ? 0 : 1);
  return [...postgres, ...listeners].sort((a, b) => fixed(a) - fixed(b));
}

function checkServices(parsed: ParsedStackConfig, err: Report) {
  const firstUse = new Map<string, string>();
  const claim = (kind: string, key: string | number, path: PropertyKey[], owner = fieldPath(path)) => {
    const earlier = firstUse.get(`${kind}:${key}`);
    if (earlier) err(path, `${kind} ${JSON.stringify(key)} is already used by ${earlier}`);
    else firstUse.set(`${kind}:${key}`, owner);
  };
  for (const { port, owner, path } of reservedPorts(parsed)) claim("port", port, path, owner);
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

/** useradd refuses longer user names (Debian's login.defs and shadow-utils: 32). */
const maxLinuxUserName = 32;
/** systemd refuses longer unit names (UNIT_NAME_MAX). */
const maxUnitName = 255;

/** Control characters (a newline from a YAML block scalar) end a line of a unit or env file early. */
const controlCharacter = /[\u0000-\u001f\u007f]/;
const describeControl = (text: string) => {
  const c = controlCharacter.exec(text)![0];
  return c === "\n" ? "a newline" : c === "\t" ? "a tab" : `the control character U+${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
};

/**
 * What each service's VMs will render: its Linux user and unit, its environment (no secret in
 * plain `env`, no variable twice, none the program sets), and commands and values that fit on
 * one line of a unit or env file.
 */
function checkServiceValues(parsed: ParsedStackConfig, err: Report) {
  parsed.services.forEach((service, s) => {
    const path: PropertyKey[] = ["services", s];
    const user = serviceUser(service.name);
    if (user.length > maxLinuxUserName) err([...path, "name"], `makes the Linux user "${user}" (${user.length} characters); useradd allows ${maxLinuxUserName}, so names up to ${maxLinuxUserName - user.length + service.name.length} characters`);
    const unit = serviceUnitName(service.name);
    if (unit.length > maxUnitName) err([...path, "name"], `makes the unit "${unit}" longer than systemd's ${maxUnitName} characters`);
    for (const [name, value] of Object.entries(service.env)) {
      const at = [...path, "env", name];
      if ((variablesOfEveryService as readonly string[]).includes(name)) {
        err(at, `is set by the program on every VM (${variablesOfEveryService.join(", ")}: where the VM runs); remove it`);
      }
      if (name in service.secretEnv) err(at, `is also in secretEnv; a variable comes from one place: keep the secretEnv entry`);
      else if (isSecretName(name)) err(at, `looks like a secret by its name; move it to secretEnv (variable name to a Secret Manager secret id), which VMs read at boot`);
      const shape = value.includes("{{kong}}") ? undefined : secretShape(value);
      if (shape && !isSecretName(name)) err(at, `its value looks like ${shape}; move it to secretEnv (variable name to a Secret Manager secret id)`);
      if (controlCharacter.test(value)) err(at, `contains ${describeControl(value)}; values must be one line (an env file holds one variable per line)`);
    }
    const run = service.run;
    const words: [PropertyKey[], string][] =
      run.kind === "git" ? [[["run", "build"], run.build], [["run", "command"], run.command]] : run.args.map((a, i): [PropertyKey[], string] => [["run", "args", i], a]);
    for (const [where, text] of words) {
      if (controlCharacter.test(text)) err([...path, ...where], `contains ${describeControl(text)}; a unit's Exec line is one line: write one command, or a script in the repository`);
    }
    if (run.kind === "container" && /^[a-z][a-z0-9+.-]*:\/\//i.test(run.image)) {
      err([...path, "run", "image"], `"${run.image}": an image reference has no URL scheme; write it as REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST], e.g. us-docker.pkg.dev/p/repo/app@sha256:…`);
    }
  });
}

/** Machine types of Google's Arm (Ampere, Axion) series: the image and Kong's package are amd64. */
const armSeries = /^(t2a|c4a|n4a)-/;

function checkMachine(parsed: ParsedStackConfig, err: Report) {
  if (armSeries.test(parsed.machineType)) {
    err(["machineType"], `"${parsed.machineType}" is an Arm machine type; the image ${parsed.image} and Kong's package are x86-64 (amd64): choose an x86 type such as e2-standard-2`);
  }
}

/** Every region's subnet holds its groups at their largest, their rollout surge and the stack's other addresses. */
function checkCapacity(parsed: ParsedStackConfig, regions: RegionPlan[], database: DatabasePlan | undefined, err: Report) {
  const standalone = parsed.topology === "standalone";
  const groups = standalone ? 1 + parsed.services.length : 1;
  for (const region of regions) {
    const cidr = parseCidr(region.subnetCidr);
    if (!cidr) continue;
    const demand: RegionDemand = {
      groups,
      maxVms: region.autoscaling?.maxReplicas ?? region.size ?? region.zones.length,
      surge: region.zones.length,
      loadBalancerAddresses: standalone ? groups : 0,
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

/** `/upload/` and `/upload` match the same requests in Kong. */
function normalizePath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

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
  } else {
    const custom = customTierProblem(settings.tier);
    if (custom) err(["database", "tier"], `"${settings.tier}": ${custom}`);
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
