/**
 * The stack's security and hygiene rules, as pure functions of a resource's type and inputs, so
 * the same rules run in the CrossGuard pack (`pulumi preview --policy-pack policy`) and offline
 * over the recorded plan of every example stack. Unknown values (a preview before the first
 * deployment) are skipped, never reported.
 */
import { parseCidr, overlaps } from "../config/cidr";
import { googleFrontEndRanges, iapRange } from "../config/google-ranges";
import { certificateManagerNamePattern } from "../config/naming";
import { isSecretName, secretShape } from "../config/secret-shapes";

export interface PolicyResource {
  type: string;
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  props: Record<string, any>;
}

/** A resource of a recorded plan as the rules see it. */
export function policyResource(resource: { type: string; name: string; inputs: Record<string, unknown> }): PolicyResource {
  return { type: resource.type, name: resource.name, props: resource.inputs };
}

interface PolicyRuleBase {
  name: string;
  description: string;
  /** Mandatory rules fail a preview; advisory ones name a deliberate choice. @default "mandatory" */
  enforcementLevel?: "mandatory" | "advisory";
}

/** A rule on each resource by itself. */
export interface ResourcePolicyRule extends PolicyRuleBase {
  /** Violation messages; empty when the resource complies or the rule does not apply. */
  check(resource: PolicyResource): string[];
}

/** A rule on how the stack's resources stand to each other. */
export interface StackPolicyRule extends PolicyRuleBase {
  /** Violations, each with the resource it is about. */
  checkStack(resources: PolicyResource[]): { resource: PolicyResource; message: string }[];
}

export type PolicyRule = ResourcePolicyRule | StackPolicyRule;

const databaseInstanceType = "gcp:sql/databaseInstance:DatabaseInstance";
const privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
const vmTypes = ["gcp:compute/regionInstanceTemplate:RegionInstanceTemplate", "gcp:compute/instance:Instance"];

function within(range: string, parents: readonly string[]): boolean {
  const cidr = parseCidr(range);
  return cidr !== undefined && parents.some((p) => {
    const parent = parseCidr(p)!;
    return overlaps(cidr, parent) && cidr.prefixLength >= parent.prefixLength;
  });
}

/** Texts a VM is given: its boot script and every metadata value. */
function vmTexts(props: PolicyResource["props"]): string[] {
  const metadata = props.metadata && typeof props.metadata === "object" ? Object.values(props.metadata) : [];
  return [props.metadataStartupScript, ...metadata].filter((v): v is string => typeof v === "string");
}

const firewallOnlyLoadBalancer: ResourcePolicyRule = {
  name: "firewall-open-only-to-load-balancers",
  description: "Ingress from outside the VPC only from Google's load balancer ranges on TCP serving ports, and SSH only from IAP",
  check({ type, props }) {
    if (type !== "gcp:compute/firewall:Firewall" || (props.direction ?? "INGRESS") !== "INGRESS" || !Array.isArray(props.sourceRanges)) return [];
    const allows: { protocol: string; ports?: string[] }[] = props.allows ?? [];
    return props.sourceRanges.flatMap((range: string) => {
      if (within(range, privateRanges)) return [];
      if (within(range, googleFrontEndRanges)) {
        const bad = allows.filter((a) => a.protocol !== "tcp" || !a.ports?.length || a.ports.some((p) => p.includes("-")));
        return bad.length ? [`${range} (load balancers) may reach only listed TCP ports, not ${JSON.stringify(bad)}`] : [];
      }
      if (within(range, [iapRange])) {
        const onlySsh = allows.every((a) => a.protocol === "tcp" && a.ports?.length === 1 && a.ports[0] === "22");
        return onlySsh ? [] : [`${range} (IAP) may reach only tcp:22`];
      }
      return [`ingress from ${range} is open to the world; only Google's load balancer ranges and IAP are allowed`];
    });
  },
};

const noExternalIp: ResourcePolicyRule = {
  name: "no-external-ip",
  description: "VMs have no external IP address; they reach the internet through Cloud NAT",
  check({ type, props }) {
    if (!vmTypes.includes(type)) return [];
    const interfaces: { accessConfigs?: unknown[] }[] = props.networkInterfaces ?? [];
    return interfaces.some((i) => (i.accessConfigs ?? []).length > 0) ? ["a network interface has an access config (an external IP)"] : [];
  },
};

const shieldedVm: ResourcePolicyRule = {
  name: "shielded-vm",
  description: "VMs boot with Secure Boot, vTPM and integrity monitoring",
  check({ type, props }) {
    if (!vmTypes.includes(type)) return [];
    const shielded = props.shieldedInstanceConfig ?? {};
    const off = ["enableSecureBoot", "enableVtpm", "enableIntegrityMonitoring"].filter((k) => shielded[k] !== true);
    return off.length ? [`Shielded VM settings off: ${off.join(", ")}`] : [];
  },
};

const cloudSqlPrivate: ResourcePolicyRule = {
  name: "cloud-sql-private-encrypted-protected",
  description: "Cloud SQL has no public IP, accepts only encrypted connections, and a primary has backups and deletion protection",
  check({ type, props }) {
    if (type !== databaseInstanceType) return [];
    const settings = props.settings ?? {};
    const ip = settings.ipConfiguration ?? {};
    const violations: string[] = [];
    if (ip.ipv4Enabled !== false) violations.push("ipConfiguration.ipv4Enabled must be false (no public IP)");
    if (!["ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"].includes(ip.sslMode)) violations.push(`ipConfiguration.sslMode ${JSON.stringify(ip.sslMode)} allows unencrypted connections`);
    if (props.deletionProtection !== true) violations.push("deletionProtection must be true");
    // Google's own guard: Pulumi's only stops `pulumi destroy`, not a delete from the console or gcloud.
    if (settings.deletionProtectionEnabled !== true) violations.push("settings.deletionProtectionEnabled must be true");
    if (!props.masterInstanceName && settings.backupConfiguration?.enabled !== true) violations.push("backupConfiguration.enabled must be true on a primary");
    return violations;
  },
};

const oneKongDatabasePrimary: StackPolicyRule = {
  name: "kong-database-one-primary",
  description: "Kong's Cloud SQL has exactly one primary, and every other instance replicates from it: two primaries would split Kong's configuration",
  checkStack(resources) {
    const instances = resources.filter((r) => r.type === databaseInstanceType);
    const primaries = instances.filter((r) => !r.props.masterInstanceName);
    if (instances.length && primaries.length !== 1) {
      return (primaries.length ? primaries : instances).map((resource) => ({ resource, message: `${primaries.length} primaries among the stack's ${instances.length} Cloud SQL instances; exactly one may take writes` }));
    }
    // A replica's type follows its master: READ_REPLICA_INSTANCE, as the provider reads it back.
    return instances
      .filter((r) => r.props.masterInstanceName && r.props.instanceType !== undefined && r.props.instanceType !== "READ_REPLICA_INSTANCE")
      .map((resource) => ({ resource, message: `instanceType ${resource.props.instanceType} with masterInstanceName ${resource.props.masterInstanceName}: a replica is READ_REPLICA_INSTANCE` }));
  },
};

const adminApiLoopback: ResourcePolicyRule = {
  name: "kong-admin-api-on-loopback",
  description: "Kong's Admin API listens on loopback only, in every boot script and config a VM gets",
  check({ type, props }) {
    if (!vmTypes.includes(type)) return [];
    return vmTexts(props).flatMap((text) =>
      [...text.matchAll(/^\s*(?:admin_listen\s*=|KONG_ADMIN_LISTEN=)\s*"?([^"\n]+)/gm)]
        .map((m) => m[1].trim())
        .filter((value) => value !== "off" && value.split(",").some((l) => !/^(127\.0\.0\.1|\[::1\]|localhost):\d+/.test(l.trim())))
        .map((value) => `Kong's Admin API listens on ${value}, not only on loopback`),
    );
  },
};

const noSecretInMetadata: ResourcePolicyRule = {
  name: "no-secret-in-metadata",
  description: "No password, token or key value in instance metadata or boot scripts; VMs read secrets from Secret Manager",
  check({ type, props }) {
    if (!vmTypes.includes(type)) return [];
    // The validator's own definition of a secret (config/secret-shapes.ts), on every environment
    // line a VM gets (`NAME="value"`); values read at boot (`$(…)`) are not literals.
    const assignment = /^([A-Z_][A-Z0-9_]*)="?([^"$\n]+)"?$/gm;
    return vmTexts(props).flatMap((text) =>
      [...text.matchAll(assignment)]
        .filter(([, name, value]) => isSecretName(name) || secretShape(value) !== undefined)
        .map(([, name]) => `${name} has a literal value in the VM's metadata`),
    );
  },
};

const noPrivateKeyInMetadata: ResourcePolicyRule = {
  name: "no-private-key-in-metadata",
  description: "No private key in instance metadata or boot scripts (hybrid's cluster key comes from Secret Manager at boot)",
  check({ type, props }) {
    if (!vmTypes.includes(type)) return [];
    return vmTexts(props).some((text) => /-----BEGIN (EC |RSA |ENCRYPTED )?PRIVATE KEY-----/.test(text)) ? ["a private key is in the VM's metadata"] : [];
  },
};

/** A VM's kong.conf setting, as the boot script writes it (`key = value`). */
const kongSetting = (props: PolicyResource["props"], key: string) =>
  vmTexts(props).map((text) => new RegExp(`^${key} = (.*)$`, "m").exec(text)?.[1]).find((v) => v !== undefined);

const dataPlanesOffTheDatabase: StackPolicyRule = {
  name: "kong-data-planes-off-the-database",
  description: "Hybrid's data planes hold no database setting and their accounts may not read Kong's database password: no region's traffic depends on the database",
  checkStack(resources) {
    // The password's secrets: those a VM reads into Kong's password variable at boot.
    const passwordSecrets = new Set(
      resources.filter((r) => vmTypes.includes(r.type)).flatMap((r) => vmTexts(r.props).flatMap((t) => [...t.matchAll(/secret_env_line GEO_KONG_PG_PASSWORD '(projects\/[^/]+\/secrets\/[^/']+)/g)].map((m) => m[1]))),
    );
    const dataPlanes = resources.filter((r) => vmTypes.includes(r.type) && kongSetting(r.props, "role") === "data_plane");
    return dataPlanes.flatMap((resource) => {
      const account = resource.props.serviceAccount?.email;
      const database = vmTexts(resource.props).some((t) => /^pg_\w+ = /m.test(t)) ? [{ resource, message: "a data plane's kong.conf names a database" }] : [];
      const grants = resources
        .filter((g) => g.type === "gcp:secretmanager/secretIamMember:SecretIamMember" && g.props.member === `serviceAccount:${account}` && passwordSecrets.has(g.props.secretId))
        .map(() => ({ resource, message: `its account ${account} may read Kong's database password` }));
      return [...database, ...grants];
    });
  },
};

/** Types whose labels live at `labels`, or at `settings.userLabels` for Cloud SQL. */
const labelledTypes: Record<string, (props: PolicyResource["props"]) => Record<string, string> | undefined> = {
  "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": (p) => p.labels,
  "gcp:compute/instance:Instance": (p) => p.labels,
  "gcp:compute/globalAddress:GlobalAddress": (p) => p.labels,
  "gcp:compute/globalForwardingRule:GlobalForwardingRule": (p) => p.labels,
  "gcp:compute/address:Address": (p) => p.labels,
  "gcp:compute/forwardingRule:ForwardingRule": (p) => p.labels,
  "gcp:secretmanager/secret:Secret": (p) => p.labels,
  [databaseInstanceType]: (p) => p.settings?.userLabels,
};

const labelled: ResourcePolicyRule = {
  name: "labelled-with-stack-and-component",
  description: "Every resource that takes labels carries the stack and component it belongs to",
  check({ type, props }) {
    const labelsOf = labelledTypes[type];
    if (!labelsOf) return [];
    const labels = labelsOf(props) ?? {};
    const missing = ["stack", "component"].filter((k) => !labels[k]);
    return missing.length ? [`labels lack ${missing.join(" and ")}`] : [];
  },
};

const publicBucket: ResourcePolicyRule = {
  name: "bucket-readable-by-everyone",
  description: "A bucket readable by allUsers: the pictures bucket with geo-api-layer:pictures.publicRead, which the messenger's public picture URLs need",
  enforcementLevel: "advisory",
  check({ type, props }) {
    if (type !== "gcp:storage/bucketIAMMember:BucketIAMMember" || !["allUsers", "allAuthenticatedUsers"].includes(props.member)) return [];
    return [`${props.member} has ${props.role} on bucket ${props.bucket} (geo-api-layer:pictures.publicRead): every object in it is public`];
  },
};

const sshOnlyThroughOsLogin: ResourcePolicyRule = {
  name: "ssh-only-through-os-login",
  description: "VMs take SSH keys only from OS Login: project-wide keys in metadata would open every VM the day OS Login is off",
  check({ type, props }) {
    if (!vmTypes.includes(type)) return [];
    const metadata = props.metadata ?? {};
    return (["enable-oslogin", "block-project-ssh-keys"] as const)
      .filter((key) => String(metadata[key]).toUpperCase() !== "TRUE")
      .map((key) => `metadata ${key} must be TRUE, not ${JSON.stringify(metadata[key])}`);
  },
};

/** Predefined Cloud Storage roles a public grant may use: storage.objects.get only (Google's "IAM roles for Cloud Storage"). */
const publicGetOnlyRoles = ["roles/storage.legacyObjectReader"];

const publicReadWithoutList: ResourcePolicyRule = {
  name: "public-read-without-list",
  description: "allUsers may get an object whose URL they have, never list a bucket's objects",
  check({ type, props }) {
    if (type !== "gcp:storage/bucketIAMMember:BucketIAMMember" || !["allUsers", "allAuthenticatedUsers"].includes(props.member)) return [];
    return publicGetOnlyRoles.includes(props.role) ? [] : [`${props.member} has ${props.role}; public read must be ${publicGetOnlyRoles.join(" or ")} (storage.objects.get only)`];
  },
};

const tlsVersions = ["TLS_1_0", "TLS_1_1", "TLS_1_2", "TLS_1_3"];

const modernTls: ResourcePolicyRule = {
  name: "https-tls-1-2",
  description: "HTTPS proxies have an SSL policy, and SSL policies accept TLS 1.2 or later only (Google's default accepts TLS 1.0)",
  check({ type, props }) {
    if (type === "gcp:compute/targetHttpsProxy:TargetHttpsProxy") return props.sslPolicy ? [] : ["no sslPolicy: Google's default accepts TLS 1.0"];
    if (type !== "gcp:compute/sSLPolicy:SSLPolicy") return [];
    const minimum = props.minTlsVersion ?? "TLS_1_0";
    return tlsVersions.indexOf(minimum) >= tlsVersions.indexOf("TLS_1_2") ? [] : [`minTlsVersion ${minimum} is below TLS_1_2`];
  },
};

const certificateManagerNames: ResourcePolicyRule = {
  name: "certificate-manager-names",
  description: "Certificate Manager resources have explicit names Google accepts: [a-zA-Z][a-zA-Z0-9_-]*, 1 to 64 characters (an auto-name holds the domain's dots)",
  check({ type, props }) {
    if (!/^gcp:certificatemanager\/(dnsAuthorization|certificate|certificateMapEntry):/.test(type)) return [];
    return certificateManagerNamePattern.test(props.name ?? "") ? [] : [`name ${JSON.stringify(props.name)} is not [a-zA-Z][a-zA-Z0-9_-]* of 1 to 64 characters`];
  },
};

const apisStayOn: ResourcePolicyRule = {
  name: "apis-stay-on-at-destroy",
  description: "Enabled APIs stay on at `pulumi destroy`: the project's other workloads use them too",
  check({ type, props }) {
    if (type !== "gcp:projects/service:Service") return [];
    return props.disableOnDestroy === false ? [] : [`${props.service} would be turned off for the whole project at destroy (disableOnDestroy must be false)`];
  },
};

/** Balancing modes Google accepts for instance-group backends, by load balancing scheme (Backend services overview). */
const balancingModes: Record<string, string[]> = { EXTERNAL_MANAGED: ["UTILIZATION", "RATE"], INTERNAL_MANAGED: ["UTILIZATION", "RATE"], INTERNAL: ["CONNECTION"] };

const backendBalancingModes: ResourcePolicyRule = {
  name: "backend-balancing-modes",
  description: "Instance-group backends use a balancing mode their load balancer accepts: CONNECTION for passthrough, UTILIZATION or RATE for Application Load Balancers",
  check({ type, props }) {
    if (!["gcp:compute/backendService:BackendService", "gcp:compute/regionBackendService:RegionBackendService"].includes(type)) return [];
    const allowed = balancingModes[props.loadBalancingScheme ?? (type.includes("region") ? "INTERNAL" : "EXTERNAL")];
    if (!allowed) return [];
    return (props.backends ?? [])
      .map((b: { balancingMode?: string }) => b.balancingMode ?? (allowed.includes("CONNECTION") ? "CONNECTION" : "UTILIZATION"))
      .filter((mode: string) => !allowed.includes(mode))
      .map((mode: string) => `balancingMode ${mode} is not one of ${allowed.join(", ")} for ${props.loadBalancingScheme}`);
  },
};

const alertPolicyType = "gcp:monitoring/alertPolicy:AlertPolicy";

/** The last part of a resource URL: an instance group's name from its self link. */
const lastPart = (url: string) => url.split("/").pop()!;

/** What a policy's conditions read: their filters and PromQL queries. */
function conditionTexts(policy: PolicyResource): string[] {
  const conditions: Record<string, { filter?: unknown; query?: unknown } | undefined>[] = policy.props.conditions ?? [];
  return conditions.flatMap((c) => [c.conditionThreshold?.filter, c.conditionAbsent?.filter, c.conditionPrometheusQueryLanguage?.query]).filter((t): t is string => typeof t === "string");
}

const alertingCoversTheStack: StackPolicyRule = {
  name: "alerting-covers-the-stack",
  description:
    "Where the stack has alert policies, they watch all of it: every backend group of the global load balancer, every Cloud SQL instance (the primary's state, each replica's lag), failed boots and the public URL's uptime",
  checkStack(resources) {
    const policies = resources.filter((r) => r.type === alertPolicyType);
    if (!policies.length) return [];
    const texts = policies.flatMap(conditionTexts);
    const unwatched = (resource: PolicyResource, what: string, watches: (text: string) => boolean) => (texts.some(watches) ? [] : [{ resource, message: `no alert policy watches ${what}` }]);
    const backends = resources.filter((r) => r.type === "gcp:compute/backendService:BackendService" && r.props.loadBalancingScheme === "EXTERNAL_MANAGED");
    const ofType = (type: string) => resources.filter((r) => r.type === type);
    const metrics = ofType("gcp:logging/metric:Metric");
    return [
      ...backends.flatMap((b) =>
        (b.props.backends ?? [])
          .map((backend: { group?: unknown }) => backend.group)
          .filter((group: unknown): group is string => typeof group === "string")
          .flatMap((group: string) => unwatched(b, `backend group ${lastPart(group)}`, (t) => t.includes(`backend_name="${lastPart(group)}"`))),
      ),
      ...(["up", "replication/replica_lag"] as const).flatMap((metric) => {
        const instances = ofType(databaseInstanceType).filter((i) => !i.props.masterInstanceName === (metric === "up"));
        const reading = texts.filter((t) => t.includes(`metric.type="cloudsql.googleapis.com/database/${metric}"`));
        const ids = new Set(reading.flatMap((t) => [...t.matchAll(/database_id="([^"]+)"/g)].map((m) => m[1].split(":").pop())));
        // Auto-named instances have no name in a recorded plan's inputs: there, one instance watched for each.
        const named = instances.filter((i) => typeof i.props.name === "string");
        return named.length === instances.length
          ? named.flatMap((i) => (ids.has(i.props.name) ? [] : [{ resource: i, message: `no alert policy watches ${i.props.name}'s database/${metric}` }]))
          : instances.slice(ids.size).map((resource) => ({ resource, message: `instances to watch for database/${metric}: ${instances.length}, watched: ${ids.size}` }));
      }),
      ...(metrics.length
        ? metrics.flatMap((m) => (typeof m.props.name === "string" ? unwatched(m, `the log-based metric ${m.props.name}`, (t) => t.includes(`logging.googleapis.com/user/${m.props.name}"`)) : []))
        : [{ resource: policies[0], message: "no log-based metric counts failed boots" }]),
      ...(ofType("gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig").length
        ? unwatched(policies[0], "the uptime check", (t) => t.includes("monitoring.googleapis.com/uptime_check/check_passed"))
        : [{ resource: policies[0], message: "no uptime check of the public URL" }]),
    ];
  },
};

export const policyRules: PolicyRule[] = [
  firewallOnlyLoadBalancer,
  noExternalIp,
  shieldedVm,
  sshOnlyThroughOsLogin,
  cloudSqlPrivate,
  oneKongDatabasePrimary,
  adminApiLoopback,
  noSecretInMetadata,
  noPrivateKeyInMetadata,
  dataPlanesOffTheDatabase,
  labelled,
  publicBucket,
  publicReadWithoutList,
  modernTls,
  certificateManagerNames,
  apisStayOn,
  backendBalancingModes,
  alertingCoversTheStack,
];

export interface Violation {
  rule: string;
  resource: string;
  message: string;
}

/** Every rule of one enforcement level over every resource: the offline form of the policy pack. */
export function checkPolicies(resources: PolicyResource[], level: PolicyRule["enforcementLevel"] = "mandatory"): Violation[] {
  const rules = policyRules.filter((rule) => (rule.enforcementLevel ?? "mandatory") === level);
  const named = (resource: PolicyResource) => `${resource.type}::${resource.name}`;
  return rules.flatMap((rule) =>
    "checkStack" in rule
      ? rule.checkStack(resources).map((v) => ({ rule: rule.name, resource: named(v.resource), message: v.message }))
      : resources.flatMap((resource) => rule.check(resource).map((message) => ({ rule: rule.name, resource: named(resource), message }))),
  );
}
