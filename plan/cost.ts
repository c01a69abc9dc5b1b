/**
 * What a recorded plan costs a month at list prices (plan/prices.ts): each priced resource's
 * lines (quantity, unit price, region, monthly), the usage-based ones from a usage file
 * (plan/usage.ts), the assumptions made where the prices say nothing, and a total. Pure: the
 * same plan and usage give the same estimate, so two plans' estimates diff line by line.
 */
import { templateOf, type Inputs } from "./fleet";
import {
  bucketGbMonth,
  cloudSqlPrice,
  diskGbMonth,
  externalIpHour,
  forwardingRules,
  hoursPerMonth,
  instanceHour,
  internetEgressGiB,
  lbDataProcessingGiB,
  natDataGiB,
  natGatewayHour,
  natVmsAtCap,
  type Price,
  secretManager,
} from "./prices";
import type { RecordedResource } from "./record";
import type { Usage } from "./usage";

export interface CostLine {
  urn: string;
  /** The resource's logical name, as the plan's tree shows it. */
  resource: string;
  /** The component it belongs to: its parent's name. */
  component: string;
  item: string;
  quantity: number;
  unit: string;
  /** USD per unit; undefined when nothing prices it (the assumption says why). */
  unitPrice?: number;
  region: string;
  monthly: number;
  /** A usage-based line: the usage file's key for its quantity, and whether the file set it. */
  usage?: { key: string; set: boolean };
  assumption?: string;
}

export interface CostEstimate {
  lines: CostLine[];
  /** USD a month: fixed lines plus usage-based ones (zero where the usage file sets no quantity). */
  total: number;
  fixed: number;
  usageBased: number;
  /** Every assumption the lines make, once each. */
  assumptions: string[];
  /** Resources without a charge of their own: how many of a type, and why. */
  free: { type: string; count: number; why: string }[];
}

/** A line before it is placed: `usageKey` names its quantity in the usage file, given in `usageScale`s of its unit. */
type LineDraft = Omit<CostLine, "urn" | "resource" | "component" | "monthly" | "usage"> & { usageKey?: string; usageScale?: number };

interface PricingContext {
  resources: RecordedResource[];
  /** VMs that run all month, by region: the groups' sizes (Cloud NAT is priced per VM-hour). */
  runningVms: Map<string, number>;
  /** The region whose rates price global traffic: the first group's, by URN. */
  defaultRegion: string;
}

const perMonth = (price: Price | undefined) => price && { usd: price.usd * hoursPerMonth, assumption: price.assumption };

/** A line from a price that may be missing (`missing` names what): then unpriced, and saying so. */
function line(draft: Omit<LineDraft, "unitPrice">, price: Price | undefined, missing = draft.item): LineDraft {
  if (!price) return { ...draft, assumption: `${missing}: not in the price snapshot, not counted` };
  return { ...draft, unitPrice: price.usd, ...(price.assumption ? { assumption: price.assumption } : {}) };
}

function diskLines(count: number, sizeGb: number, diskType: string, region: string): LineDraft[] {
  return [line({ item: `${diskType} disk, ${sizeGb} GB each`, quantity: count * sizeGb, unit: "GB-month", region }, diskGbMonth(diskType, region), `${diskType} in ${region}`)];
}

function vmLines(count: number, machineType: string, region: string, what: string): LineDraft[] {
  return [line({ item: `${what}, ${machineType}`, quantity: count, unit: "VM-month", region }, perMonth(instanceHour(machineType, region)), `${machineType} in ${region}`)];
}

const regionOfZone = (zone: string) => zone.replace(/-[a-z]$/, "");

/** Responses leaving Google, at the first tier (0 to 1 TiB a month) of `region`'s rate. */
function internetEgressLine(region: string): LineDraft {
  return line({ item: "internet egress (first TiB tier)", quantity: 0, unit: "GiB", region, usageKey: "internetEgressGiB" }, internetEgressGiB(region), `internet egress from ${region}`);
}

/** The VMs a group keeps running: its size, or its autoscaler's minimum. */
function groupSize(resources: RecordedResource[], group: Inputs): { size: number; assumption?: string } {
  const autoscaler = resources.find((r) => r.type === "gcp:compute/regionAutoscaler:RegionAutoscaler" && r.inputs.name === group.name && r.inputs.region === group.region);
  const policy = (autoscaler as Recorded | undefined)?.inputs.autoscalingPolicy;
  if (!policy) return { size: group.targetSize ?? 0 };
  return { size: policy.minReplicas, assumption: `${group.name} at its autoscaler's minimum of ${policy.minReplicas} VMs; each VM it adds up to ${policy.maxReplicas} costs as much again` };
}

/** Cloud SQL `db-custom-<vCPUs>-<MB>`: vCPUs and GB of memory. */
function customTier(tier: string): { vcpus: number; memoryGb: number } | undefined {
  const match = /^db-custom-(\d+)-(\d+)$/.exec(tier);
  return match ? { vcpus: Number(match[1]), memoryGb: Number(match[2]) / 1024 } : undefined;
}

/** A recorded resource, its inputs as loosely typed as the provider's schema makes them. */
type Recorded = Omit<RecordedResource, "inputs"> & { inputs: Inputs };

/** A resource's lines, or why this one costs nothing. */
type Pricer = (r: Recorded, context: PricingContext) => LineDraft[] | { free: string };

const pricers: Record<string, Pricer> = {
  // Priced by Google per condition and per time series a condition reads, not in the snapshot.
  "gcp:monitoring/alertPolicy:AlertPolicy": (r) => [
    { item: "alerting conditions", quantity: (r.inputs.conditions ?? []).length, unit: "condition-month", region: "", assumption: "alert policies: Cloud Monitoring's alerting prices (per condition and per time series read) are not in the price snapshot, not counted" },
  ],
  "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": (r, { resources }) => {
    const template = templateOf(resources, r.inputs);
    if (!template) return [{ item: "VMs", quantity: 0, unit: "VM-month", region: r.inputs.region, assumption: `${r.name}: no template in the plan, not counted` }];
    const { size, assumption } = groupSize(resources, r.inputs);
    const disk = template.disks?.[0] ?? {};
    const lines = [...vmLines(size, template.machineType, r.inputs.region, "VMs"), ...diskLines(size, disk.diskSizeGb ?? 10, disk.diskType ?? "pd-standard", r.inputs.region)];
    return assumption ? lines.map((l) => ({ ...l, assumption: l.assumption ?? assumption })) : lines;
  },
  // One-shot VMs (the migrator, the builder) power off when done: a stopped VM costs its disk; its runs are usage.
  "gcp:compute/instance:Instance": (r) => {
    const region = regionOfZone(r.inputs.zone);
    const disk = r.inputs.bootDisk?.initializeParams ?? {};
    const run = line({ item: `runs, ${r.inputs.machineType}`, quantity: 0, unit: "hour", region, usageKey: "runHours" }, instanceHour(r.inputs.machineType, region), `${r.inputs.machineType} in ${region}`);
    return [...diskLines(1, disk.size ?? 10, disk.type ?? "pd-standard", region), run];
  },
  "gcp:sql/databaseInstance:DatabaseInstance": (r) => {
    const settings = r.inputs.settings ?? {};
    const region: string = r.inputs.region;
    const ha = settings.availabilityType === "REGIONAL";
    const factor = ha ? 2 : 1;
    const mode = ha ? "HA (primary and standby)" : "zonal";
    const role = r.inputs.masterInstanceName ? "replica" : "primary";
    const tier = customTier(settings.tier ?? "");
    if (settings.edition !== "ENTERPRISE" || !tier) {
      return [{ item: `Cloud SQL ${role} ${settings.edition} ${settings.tier}`, quantity: 1, unit: "instance-month", region, assumption: `Cloud SQL ${settings.edition} ${settings.tier}: priced here only for Enterprise db-custom tiers, not counted` }];
    }
    const price = (item: Parameters<typeof cloudSqlPrice>[0], perHour: boolean): Price => {
      const p = cloudSqlPrice(item, region);
      return { usd: p.usd * factor * (perHour ? hoursPerMonth : 1), assumption: p.assumption };
    };
    const lines: LineDraft[] = [
      line({ item: `${role} vCPUs, ${mode}`, quantity: tier.vcpus, unit: "vCPU-month", region }, price("vcpuHour", true)),
      line({ item: `${role} memory, ${mode}`, quantity: tier.memoryGb, unit: "GB-month", region }, price("memoryGbHour", true)),
      line({ item: `${role} SSD storage, ${mode}`, quantity: settings.diskSize ?? 10, unit: "GB-month", region }, price("ssdGbMonth", false)),
    ];
    if (settings.backupConfiguration?.enabled) {
      lines.push(line({ item: "backups", quantity: 0, unit: "GB-month", region, usageKey: "backupStorageGb" }, cloudSqlPrice("backupGbMonth", region)));
    }
    return lines;
  },
  "gcp:compute/routerNat:RouterNat": (r, { runningVms }) => {
    const region: string = r.inputs.region;
    const vms = runningVms.get(region) ?? 0;
    const cap = natGatewayHour(region);
    const gateway = cap && { usd: (cap.usd / natVmsAtCap) * hoursPerMonth };
    return [
      line({ item: `gateway, ${vms} VMs (capped at ${natVmsAtCap})`, quantity: Math.min(vms, natVmsAtCap), unit: "VM-month", region }, gateway, `Cloud NAT in ${region}`),
      line({ item: "auto-allocated NAT IP", quantity: 1, unit: "IP-month", region, assumption: "one NAT IP per gateway (AUTO_ONLY allocates more only past 64,512 connections' ports)" }, perMonth(externalIpHour(region)), `external IPs in ${region}`),
      line({ item: "data processed", quantity: 0, unit: "GiB", region, usageKey: "dataProcessedGiB" }, natDataGiB(region), `Cloud NAT data in ${region}`),
    ];
  },
  "gcp:secretmanager/secretVersion:SecretVersion": () => [
    {
      item: "active version",
      quantity: 1,
      unit: "version-month",
      unitPrice: secretManager.versionMonth,
      region: "global",
      assumption: "Secret Manager before its free tier (6 versions, 10,000 accesses a month per billing account); automatic replication billed as one location",
    },
  ],
  "gcp:secretmanager/secret:Secret": () => [{ item: "accesses", quantity: 0, unit: "10,000 accesses", unitPrice: secretManager.accessesPer10k, region: "global", usageKey: "accesses", usageScale: 10_000 }],
  // Internet egress only where the public may read: the builds bucket's readers are VMs in its own multi-region (no charge).
  "gcp:storage/bucket:Bucket": (r, { defaultRegion }) => [
    line({ item: "Standard storage", quantity: 0, unit: "GB-month", region: r.inputs.location, usageKey: "storageGb" }, bucketGbMonth(r.inputs.location), `Cloud Storage in ${r.inputs.location}`),
    ...(r.inputs.publicAccessPrevention === "enforced" ? [] : [internetEgressLine(defaultRegion)]),
  ],
  // Forwarding rules are priced per location in tiers: the lines are drawn up for the location as a whole (forwardingRuleLines).
  "gcp:compute/globalForwardingRule:GlobalForwardingRule": (_rule, { defaultRegion }) => [
    { item: "data processed, in and out", quantity: 0, unit: "GiB", unitPrice: lbDataProcessingGiB, region: defaultRegion, usageKey: "dataProcessedGiB" },
    internetEgressLine(defaultRegion),
  ],
  // A regional (internal) rule's only price is its share of its location's tier.
  "gcp:compute/forwardingRule:ForwardingRule": () => [],
  "gcp:compute/globalAddress:GlobalAddress": (r) =>
    r.inputs.purpose === "VPC_PEERING"
      ? { free: "an internal range for private services access" }
      : [{ item: "static external address", quantity: 1, unit: "address-month", unitPrice: 0, region: "global", assumption: "the load balancer's address: no separate charge while its forwarding rule uses it (Google's IP pricing); left unused it costs $0.01 an hour" }],
};

const forwardingRuleTypes = ["gcp:compute/globalForwardingRule:GlobalForwardingRule", "gcp:compute/forwardingRule:ForwardingRule"];

/** Each location's forwarding rules: the first five share one hourly price, each further one adds its own. */
function forwardingRuleLines(resources: Recorded[]): CostLine[] {
  const byLocation = new Map<string, Recorded[]>();
  for (const r of resources.filter((x) => x.custom && forwardingRuleTypes.includes(x.type))) {
    const location = r.inputs.region ?? "global";
    byLocation.set(location, [...(byLocation.get(location) ?? []), r]);
  }
  return [...byLocation].flatMap(([location, rules]) =>
    rules
      .sort((a, b) => a.urn.localeCompare(b.urn))
      .map((r, i) => {
        const share = i < forwardingRules.included ? forwardingRules.firstFiveHour / Math.min(rules.length, forwardingRules.included) : forwardingRules.eachBeyondHour;
        const internal = r.inputs.loadBalancingScheme?.startsWith("INTERNAL");
        return {
          urn: r.urn,
          resource: r.name,
          component: componentOf(r, resources),
          item: i < forwardingRules.included ? `forwarding rule, share of the first 5 in ${location}` : `forwarding rule beyond 5 in ${location}`,
          quantity: 1,
          unit: "rule-month",
          unitPrice: share * hoursPerMonth,
          region: location,
          monthly: share * hoursPerMonth,
          ...(internal ? { assumption: "internal load balancers' forwarding rules priced as the external one's tiers, per region; regional Application Load Balancers' proxy instances not counted" } : {}),
        };
      }),
  );
}

/** Types without a charge of their own, and why: so every type of a plan is accounted for. */
export const freeTypes: Record<string, string> = {
  "gcp:projects/iAMMember:IAMMember": "IAM",
  "gcp:projects/iAMCustomRole:IAMCustomRole": "IAM",
  "gcp:serviceaccount/account:Account": "IAM",
  "gcp:secretmanager/secretIamMember:SecretIamMember": "IAM",
  "gcp:storage/bucketIAMMember:BucketIAMMember": "IAM",
  "gcp:projects/service:Service": "enabling an API",
  "gcp:compute/network:Network": "VPC",
  "gcp:compute/subnetwork:Subnetwork": "VPC",
  "gcp:compute/firewall:Firewall": "VPC",
  "gcp:compute/router:Router": "a Cloud Router without BGP sessions (its NAT is priced)",
  "gcp:compute/address:Address": "an internal address",
  "gcp:servicenetworking/connection:Connection": "private services access (its traffic is Cloud SQL's)",
  "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": "a template (its VMs are priced on their group)",
  "gcp:compute/regionAutoscaler:RegionAutoscaler": "autoscaling (the VMs it keeps are priced on their group)",
  "gcp:compute/healthCheck:HealthCheck": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/regionHealthCheck:RegionHealthCheck": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/backendService:BackendService": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/regionBackendService:RegionBackendService": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/uRLMap:URLMap": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/regionUrlMap:RegionUrlMap": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/targetHttpProxy:TargetHttpProxy": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/targetHttpsProxy:TargetHttpsProxy": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy": "load balancer configuration (billed by its forwarding rules)",
  "gcp:compute/sSLPolicy:SSLPolicy": "load balancer configuration (billed by its forwarding rules)",
  "gcp:certificatemanager/certificate:Certificate": "a Google-managed certificate (assumed within Certificate Manager's no-charge first 100)",
  "gcp:certificatemanager/certificateMap:CertificateMap": "Certificate Manager configuration",
  "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry": "Certificate Manager configuration",
  "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": "Certificate Manager configuration",
  "gcp:sql/database:Database": "a database inside its Cloud SQL instance",
  "gcp:sql/user:User": "a user of its Cloud SQL instance",
  "random:index/randomPassword:RandomPassword": "made by Pulumi, not in the cloud",
  "random:index/randomId:RandomId": "made by Pulumi, not in the cloud",
  "tls:index/privateKey:PrivateKey": "made by Pulumi, not in the cloud",
  "tls:index/selfSignedCert:SelfSignedCert": "made by Pulumi, not in the cloud",
  "command:local:Command": "runs on the deployer's machine",
  "gcp:monitoring/dashboard:Dashboard": "Cloud Monitoring configuration",
  "gcp:monitoring/notificationChannel:NotificationChannel": "Cloud Monitoring configuration",
  "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": "an uptime check of one URL a minute (assumed within Cloud Monitoring's free executions a month)",
  "gcp:logging/metric:Metric": "a log-based metric counting rare lines (assumed within Cloud Monitoring's free metric volume)",
};

function componentOf(r: RecordedResource, resources: RecordedResource[]): string {
  const parent = resources.find((p) => p.urn === r.parent);
  return parent ? parent.name : "(stack)";
}

/** VMs running all month per region: the groups' sizes (one-shot VMs power off). */
function runningVmsByRegion(resources: RecordedResource[]): Map<string, number> {
  const vms = new Map<string, number>();
  for (const g of resources.filter((r): r is Recorded => r.type === "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")) {
    vms.set(g.inputs.region, (vms.get(g.inputs.region) ?? 0) + groupSize(resources, g.inputs).size);
  }
  return vms;
}

/** To cents, as a bill shows it. */
export const round = (usd: number) => Math.round(usd * 100) / 100;

export function estimateCost(resources: RecordedResource[], usage: Usage = {}): CostEstimate {
  const custom: Recorded[] = resources.filter((r) => r.custom);
  const firstGroup = custom.find((r) => r.type === "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager");
  const context: PricingContext = { resources, runningVms: runningVmsByRegion(resources), defaultRegion: firstGroup?.inputs.region ?? "us-central1" };
  const lines: CostLine[] = [...forwardingRuleLines(resources)];
  const free = new Map<string, number>();
  for (const r of custom) {
    const priced = pricers[r.type]?.(r, context) ?? (freeTypes[r.type] ? { free: freeTypes[r.type] } : undefined);
    if (!priced) {
      lines.push({ urn: r.urn, resource: r.name, component: componentOf(r, resources), item: r.type, quantity: 1, unit: "resource", region: "", monthly: 0, assumption: `${r.type}: no price and no known reason to be free, not counted` });
      continue;
    }
    if ("free" in priced) {
      const key = `${r.type}\n${priced.free}`;
      free.set(key, (free.get(key) ?? 0) + 1);
      continue;
    }
    for (const { usageKey, usageScale = 1, ...draft } of priced) {
      const given = usageKey === undefined ? undefined : usage[r.name]?.[usageKey];
      const quantity = given === undefined ? draft.quantity : given / usageScale;
      lines.push({
        ...draft,
        urn: r.urn,
        resource: r.name,
        component: componentOf(r, resources),
        quantity,
        monthly: round(quantity * (draft.unitPrice ?? 0)),
        ...(usageKey === undefined ? {} : { usage: { key: usageKey, set: given !== undefined } }),
      });
    }
  }
  const sum = (ls: CostLine[]) => round(ls.reduce((s, l) => s + l.monthly, 0));
  const fixed = sum(lines.filter((l) => !l.usage));
  const usageBased = sum(lines.filter((l) => l.usage));
  return {
    lines,
    total: round(fixed + usageBased),
    fixed,
    usageBased,
    assumptions: [...new Set(lines.flatMap((l) => (l.assumption ? [l.assumption] : [])))],
    free: [...free].map(([key, count]) => ({ type: key.split("\n")[0], why: key.split("\n")[1], count })).sort((a, b) => a.type.localeCompare(b.type)),
  };
}

/** The usage keys each resource's lines take, for checking a usage file against a plan. */
export function usageKeys(resources: RecordedResource[]): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const l of estimateCost(resources).lines) if (l.usage) keys.set(l.resource, [...(keys.get(l.resource) ?? []), l.usage.key]);
  return keys;
}
