/**
 * What the VM harness's test files share: the root file system and stand-ins, the example stacks as
 * the program renders them for the test service, a network per stack with Kong's database on it,
 * and VMs of a role in a region.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { fleets, inputsOfType, oneShotVms } from "../../plan/fleet";
import { mockDatabaseAddress, mockKongClusterKey } from "../../plan/mock-cloud";
import { filesWrittenBy } from "../../startup/startup-script";
import { kongConfValue, kongPasswordVariable } from "../../startup/kong-conf";
import { kongToolsDir, kongToolsUnavailable } from "../support/kong-tools";
import { recordStack, useStoredBuilds } from "../support/stack";
import { mockCloudSqlSigner, PostgresServer, serverCertificate } from "./cloud-sql";
import { baseRootfs, harnessUnavailable, prepareStandins, Standins, Vm, VmSpec } from "./harness";
import { TestNetwork } from "./network";

export const unavailable = harnessUnavailable();
export const describeVm = unavailable ? describe.skip : describe;

// Values that systemd and bash would read differently: one parser must see them everywhere.
export const kongPassword = "kong$HOME`id`'\"\\pw";
export const echoToken = "tok$PATH`date`";
export const greeting = "costs $5 `date` \"quoted\" \\ back";

export interface Harness {
  work: string;
  base: string;
  /** Cloud Storage's objects, bound into every VM of the test file (guest/standin-google.py). */
  storage: string;
  standins: Standins;
  /** Kong's own checks, bound into every VM, where they can run here. */
  kongTools?: string;
}

/** Sets up the harness for a test file (in its beforeAll) and removes its VMs afterwards. */
export function harnessFor(label: string): Harness {
  const harness = {} as Harness;
  beforeAll(() => {
    if (unavailable) return;
    harness.work = mkdtempSync(join(tmpdir(), `vm-harness-${label}-`));
    // PostgreSQL's servers run as postgres: it must reach their folders.
    chmodSync(harness.work, 0o711);
    harness.base = baseRootfs();
    harness.storage = join(harness.work, "storage");
    mkdirSync(harness.storage);
    harness.standins = prepareStandins(join(harness.work, "standins"));
    harness.kongTools = kongToolsUnavailable() ? undefined : kongToolsDir();
    if (!harness.kongTools) process.stderr.write(`vm harness: Kong's own checks not bound in: ${kongToolsUnavailable()}\n`);
  }, 900_000);
  afterAll(() => {
    if (harness.work && !process.env.GEO_VM_KEEP) rmSync(harness.work, { recursive: true, force: true });
  });
  return harness;
}

export const echoPort = 9002;
/** An argument systemd would change unless the unit escapes it (`%s` is a specifier, `$HOME` a variable). */
export const echoArgument = "100%s of $HOME";
export const echoHealth = `http://127.0.0.1:${echoPort}/healthz`;
export const echoEnv = `http://127.0.0.1:${echoPort}/env`;

/** `internalRoute: false` for standalone, where echo is the entry service, which may not own one. */
export const echoService = (standins: Standins, { internalRoute = true } = {}) => ({
  name: "echo",
  port: echoPort,
  healthPath: "/healthz",
  env: { PORT: String(echoPort), GREETING: greeting, KONG_URL: "{{kong}}/echo" },
  secretEnv: { ECHO_TOKEN: "echo-token" },
  routes: [{ name: "echo", paths: ["/echo"] }, ...(internalRoute ? [{ name: "echo-internal", paths: ["/echo-internal"], internal: true }] : [])],
  run: {
    kind: "git",
    repository: standins.echoRepository,
    ref: standins.echoRef,
    build: { command: "python3 -m py_compile server.py", packages: ["python3"], artifacts: ["server.py"] },
    packages: ["python3"],
    command: `python3 server.py '${echoArgument}'`,
  },
});

export interface Roles {
  /** Role name (`gateway`, `kong-tier`, `service-tier`; the one-shot `migrator` and `builder`) to the boot script of its first group or VM. */
  scripts: Record<string, string>;
  /** Each region's boot script of a role: `gateway` by region. */
  byRegion: Record<string, Record<string, string>>;
  /** Each region's subnet. */
  subnets: Record<string, string>;
  /** Standalone: each region's internal load balancer addresses, by tier (`kong`, a service's name). */
  internalAddresses: Record<string, Record<string, string>>;
  /** The private address of Kong's cross-region replica, where the stack has one. */
  replicaAddress?: string;
  /**
   * The load balancer's health check (port and path), the port its requests go to (the backend
   * service's named port on the groups, which Google resolves apart from the check's) and its address.
   */
  loadBalancer: { port: number; requestPath: string; servingPort: number; address: string };
}

/** The builds a builder's script makes: its bucket and each build's key. */
export function buildsOf(builderScript: string): { bucket: string; keys: string[] } {
  const builds = [...builderScript.matchAll(/^if stored '([^']+)' 'builds\/([^']+)\.json'; then$/gm)];
  if (!builds.length) throw new Error("the builder's script builds nothing");
  return { bucket: builds[0][1], keys: builds.map((b) => b[2]) };
}

/** A builder VM (no Kong, no service): it builds what the bucket lacks, stores it, and powers off. */
export function builderVm(harness: Harness, name: string, script: string, netns: string): Vm {
  return new Vm(join(harness.work, name), harness.base, harness.standins, { script, secrets: {}, netns, storage: harness.storage, services: {}, ready: [], kill: [], fetch: [] });
}

/**
 * The builder of the stack's scripts, booted for real once per test file, unless its builds are
 * stored already; the mock then reports what it stored, so the fleet's scripts name those bytes.
 */
function buildOnce(harness: Harness, builderScript: string): void {
  const { bucket, keys } = buildsOf(builderScript);
  const manifest = (key: string) => join(harness.storage, bucket, "builds", `${key}.json`);
  if (!keys.every((key) => existsSync(manifest(key)))) {
    const network = new TestNetwork();
    try {
      const boot = builderVm(harness, `builder-${keys.join("-").slice(0, 60)}`, builderScript, network.host("builder", ["10.0.99.2"])).boot();
      const missing = keys.filter((key) => !existsSync(manifest(key)));
      if (missing.length) throw new Error(`the builder stored no manifest of ${missing.join(", ")}:\n${boot.startupLog}`);
    } finally {
      network.destroy();
    }
  }
  useStoredBuilds(join(harness.storage, bucket));
}

/** The example stack, with the test service and the local Kong repository, as the program renders it. */
export async function roles(harness: Harness, stack: string, overrides: Record<string, unknown> = {}): Promise<Roles> {
  const first = await record(harness, stack, overrides);
  const builder = oneShotVms(first.resources, "builder")[0];
  if (!builder) return first.roles;
  buildOnce(harness, builder.metadataStartupScript);
  return (await record(harness, stack, overrides)).roles;
}

async function record(harness: Harness, stack: string, overrides: Record<string, unknown>) {
  const recording = await recordStack(stack, {
    ...overrides,
    // In standalone echo is the entry service, which faces the load balancer without Kong.
    services: [echoService(harness.standins, { internalRoute: stack !== "us-standalone" })],
    // The test service stores no pictures.
    pictures: null,
    // Its health path has no route: the uptime check requests the route's own path.
    alerting: { uptimePath: "/echo" },
    kong: { ...(overrides.kong as object), packageRepository: { url: "https://kong-packages.test/public/gateway-39", keyFingerprint: harness.standins.kongKeyFingerprint } },
  });
  if (recording.errors.length) throw new Error(recording.errors.join("\n"));
  const scripts: Record<string, string> = {};
  const byRegion: Roles["byRegion"] = {};
  for (const fleet of fleets(recording.resources)) {
    scripts[fleet.role] ??= fleet.script;
    (byRegion[fleet.role] ??= {})[fleet.region] ??= fleet.script;
  }
  for (const role of ["migrator", "builder"] as const) {
    const vm = oneShotVms(recording.resources, role)[0];
    if (vm) scripts[role] = vm.metadataStartupScript;
  }
  const check = recording.resources.find((r) => r.type === "gcp:compute/healthCheck:HealthCheck" && r.parent?.includes("GlobalLoadBalancer"));
  const forwardingRule = inputsOfType(recording.resources, "compute/globalForwardingRule:GlobalForwardingRule")[0];
  const { port, requestPath } = (check!.inputs as { httpHealthCheck: { port: number; requestPath: string } }).httpHealthCheck;
  const backend = recording.resources.find((r) => r.type === "gcp:compute/backendService:BackendService" && r.parent?.includes("GlobalLoadBalancer"));
  const portName = (backend!.inputs as { portName: string }).portName;
  const namedPorts = inputsOfType(recording.resources, "compute/regionInstanceGroupManager:RegionInstanceGroupManager").flatMap((g) => g.namedPorts as { name: string; port: number }[]);
  const servingPort = namedPorts.find((p) => p.name === portName)!.port;
  const subnets = Object.fromEntries(inputsOfType(recording.resources, "compute/subnetwork:Subnetwork").filter((s) => !s.purpose).map((s) => [s.region, s.ipCidrRange]));
  const internalAddresses: Roles["internalAddresses"] = {};
  for (const rule of inputsOfType(recording.resources, "compute/forwardingRule:ForwardingRule")) {
    (internalAddresses[rule.region] ??= {})[String(rule.name).replace(`geo-${rule.region}-`, "").replace(/-ilb$/, "")] = rule.ipAddress;
  }
  const replica = recording.resources.find((r) => r.type === "gcp:sql/databaseInstance:DatabaseInstance" && (r.inputs as { masterInstanceName?: string }).masterInstanceName);
  const replicaAddress = replica && mockDatabaseAddress(replica.name);
  return { resources: recording.resources, roles: { scripts, byRegion, subnets, internalAddresses, replicaAddress, loadBalancer: { port, requestPath, servingPort, address: forwardingRule.ipAddress } } as Roles };
}

/**
 * The secrets a script reads, by id, with the values above; hybrid's cluster key as the program
 * stores it (base64 of the key the mock's tls.PrivateKey reports).
 */
export function secretsOf(script: string): Record<string, string> {
  const values: Record<string, string> = { [kongPasswordVariable]: kongPassword, ECHO_TOKEN: echoToken, CLUSTER_KEY: Buffer.from(mockKongClusterKey).toString("base64") };
  return Object.fromEntries(
    [...script.matchAll(/(?:secret_env_line (\w+)|write_cluster_key \S+) 'projects\/[^/]+\/secrets\/([^/]+)\/versions\/latest'/g)].map(([, variable, id]) => [id, values[variable ?? "CLUSTER_KEY"]]),
  );
}

export const kongConf = (script: string) => filesWrittenBy(script)["/etc/kong/kong.conf"] ?? "";

/** A port of a `*_listen` setting of a script's kong.conf. */
export const kongPort = (script: string, key: string) => kongConfValue(kongConf(script), key)?.split(":")[1];

/** The network of one stack's VMs, with Kong's database (a primary, and a replica where the stack has one). */
export class StackNetwork {
  readonly net = new TestNetwork();
  primary?: PostgresServer;
  replica?: PostgresServer;
  private readonly used = new Map<string, number>();

  constructor(dir: string, private readonly roles: Roles, options: { replicaApplyDelaySec?: number } = {}) {
    mkdirSync(dir, { recursive: true });
    const primaryHost = [roles.scripts.migrator, ...Object.values(roles.scripts)].map((s) => s && kongConfValue(kongConf(s), "pg_host")).find((h) => h && h !== "127.0.0.1");
    const replicaHost = roles.replicaAddress;
    if (!primaryHost) return;
    serverCertificate(join(dir, "tls"), mockCloudSqlSigner);
    this.primary = new PostgresServer(this.net, "db-primary", join(dir, "primary"), { address: primaryHost, tls: join(dir, "tls") });
    this.primary.createKongDatabase(kongPassword);
    if (replicaHost) {
      this.replica = new PostgresServer(this.net, "db-replica", join(dir, "replica"), { address: replicaHost, tls: join(dir, "tls"), primary: this.primary, applyDelaySec: options.replicaApplyDelaySec });
    }
  }

  /**
   * A VM's namespace with the next address of its region's subnet, and `extra` addresses (an
   * internal load balancer's, which in the harness is the one VM behind it).
   */
  vmHost(name: string, region: string, extra: string[] = []): string {
    const [base] = this.roles.subnets[region].split("/");
    const n = (this.used.get(region) ?? 0) + 1;
    this.used.set(region, n);
    const octets = base.split(".").map(Number);
    return this.net.host(name, [[octets[0], octets[1], octets[2], octets[3] + 10 + n].join("."), ...extra]);
  }

  /** The address a VM's namespace got. */
  addressOf(ns: string): string {
    return /inet (\S+)\/32/.exec(this.net.exec(ns, ["ip", "-4", "address", "show", "dev", "eth0"]))![1];
  }

  /** Kong's migrations recorded in the primary, as the stand-in keeps them. */
  schemaState(): { executed: string[]; pending: string[] } {
    return JSON.parse(this.primary!.psql("SELECT state FROM schema_meta WHERE key = 'core'", {}, "kong"));
  }

  /** Kong's entities in the primary, by key (`routes/echo`). */
  entities(): string[] {
    return this.primary!.psql("SELECT key FROM entities ORDER BY key", {}, "kong").split("\n").filter(Boolean);
  }

  destroy(): void {
    this.replica?.stop();
    this.primary?.stop();
    this.net.destroy();
  }
}

/** Path of a request through Kong's proxy listener, which Kong's access log records. */
export const proxyProbePath = "/harness-probe";

/**
 * Requests as Google's front ends forward them (from their range, `<what the client sent>, <client>,
 * <load balancer>`) and one straight from a client; the address Kong logs for each.
 */
function forwardedRequests(conf: string, loadBalancer: string): NonNullable<VmSpec["forwarded"]> {
  const port = Number(kongConfValue(conf, "proxy_listen")!.split(":")[1]);
  const frontEnd = "130.211.0.7";
  return [
    { source: frontEnd, port, path: "/harness-forwarded/client", xff: `198.51.100.7, ${loadBalancer}`, logged: "198.51.100.7" },
    { source: frontEnd, port, path: "/harness-forwarded/forged", xff: `10.0.0.5, ${loadBalancer}, 198.51.100.8, ${loadBalancer}`, logged: "198.51.100.8" },
    { source: "192.0.2.50", port, path: "/harness-forwarded/direct", xff: "10.0.0.5", logged: "192.0.2.50" },
  ];
}

/** A VM running `script` in namespace `netns`; `services` when the echo service runs on it. */
export function vmFor(harness: Harness, name: string, script: string, roles: Roles, netns: string, services: boolean, extra: Partial<VmSpec> = {}): Vm {
  const status = kongPort(script, "status_listen");
  const kongReady = `http://127.0.0.1:${status}/status/ready`;
  // A hybrid control plane has no proxy (`proxy_listen = off`).
  const proxy = kongPort(script, "proxy_listen");
  const spec: VmSpec = {
    script,
    secrets: secretsOf(script),
    netns,
    storage: harness.storage,
    kongTools: harness.kongTools,
    loadBalancerCheck: proxy && roles.loadBalancer.port === Number(proxy) ? `http://127.0.0.1:${proxy}${roles.loadBalancer.requestPath}` : undefined,
    services: services ? { echo: echoHealth } : {},
    ready: [...(status ? [kongReady] : []), ...(services ? [echoHealth] : [])],
    kill: [...(services ? [{ unit: "geo-svc-echo.service", url: echoHealth }] : []), ...(status ? [{ unit: "kong.service", url: kongReady }] : [])],
    fetch: [...(services ? [echoEnv] : []), ...(proxy ? [`http://127.0.0.1:${proxy}${proxyProbePath}`] : [])],
    forwarded: proxy ? forwardedRequests(kongConf(script), roles.loadBalancer.address) : [],
    ...extra,
  };
  return new Vm(join(harness.work, name), harness.base, harness.standins, spec);
}
