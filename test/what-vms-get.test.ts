/**
 * What each VM of each example stack finally gets, recorded through the whole program (not a
 * renderer's output for an input a test chose): Kong's database connection, keepalive towards
 * Google's load balancers, and the network paths Kong's routes need.
 */
import { parseCidr, overlaps } from "../config/cidr";
import { fleets, Inputs, inputsOfType } from "../plan/fleet";
import type { Recording } from "../plan/record";
import { exampleStacks } from "../scripts/outage-table";
import { kongConfValue, kongDatabaseCaPath } from "../startup/kong-conf";
import { mockCloudSqlCa } from "../plan/mock-cloud";
import { entitiesFromAdminRequests, kongHealthPath } from "../startup/kong-entities";
import { filesWrittenBy } from "../startup/startup-script";
import { declarativeConfigsOf, vmsOf, withKong } from "./support/rendered-vms";
import { kongConfPath } from "../startup/systemd";
import { parse } from "yaml";
import { inputs, ofType, one, recordStack } from "./support/stack";

const stacks: Record<string, Recording> = {};
beforeAll(async () => {
  for (const [topology, stack] of Object.entries(exampleStacks)) stacks[topology] = await recordStack(stack);
});

/** `620s` as 620; NaN for anything else. */
const seconds = (value: string | undefined) => Number(/^(\d+)s$/.exec(value ?? "")?.[1] ?? NaN);

/** The resource of `type` a URL (self link) names. */
const named = (resources: Recording["resources"], type: string, url: unknown) => inputsOfType(resources, type).find((r) => String(url).endsWith(`/${r.name}`));

/** The region backend service behind an internal forwarding rule: its own (passthrough), or its proxy's URL map's. */
function backendOf(resources: Recording["resources"], rule: Inputs): Inputs {
  const backend = (url: unknown) => named(resources, "compute/regionBackendService:RegionBackendService", url);
  if (rule.loadBalancingScheme === "INTERNAL") return backend(rule.backendService);
  const proxy = named(resources, "compute/regionTargetHttpProxy:RegionTargetHttpProxy", rule.target);
  return backend(named(resources, "compute/regionUrlMap:RegionUrlMap", proxy.urlMap).defaultService);
}

const kongConfs = (recording: Recording) => withKong(vmsOf(recording)).map((vm) => ({ vm: vm.name, conf: vm.files[kongConfPath] }));

describe.each(Object.keys(exampleStacks))("every VM with Kong in the %s example stack", (topology) => {
  it("connects to Cloud SQL over TLS, which the instances require (ENCRYPTED_ONLY), and to a local PostgreSQL on loopback only", () => {
    const recording = stacks[topology];
    const cloudSql = ofType(recording, "gcp:sql/databaseInstance:DatabaseInstance").map(inputs);
    for (const instance of cloudSql) expect(instance.settings.ipConfiguration.sslMode).toBe("ENCRYPTED_ONLY");
    const confs = kongConfs(recording);
    expect(confs.length).toBeGreaterThanOrEqual(3);
    for (const { vm, conf } of confs) {
      const host = kongConfValue(conf, "pg_host");
      if (kongConfValue(conf, "database") === "off") continue;
      // The mock gives each Cloud SQL instance its own private address (plan/mock-cloud.ts).
      const onCloudSql = host !== "127.0.0.1";
      expect([vm, host, kongConfValue(conf, "pg_ssl")]).toEqual([vm, onCloudSql ? expect.stringMatching(/^10\.64\./) : "127.0.0.1", onCloudSql ? "on" : "off"]);
    }
  });

  it("verifies Cloud SQL's certificate against the primary's server CA, which the boot script writes", () => {
    const primary = ofType(stacks[topology], "gcp:sql/databaseInstance:DatabaseInstance").find((d) => !inputs(d).masterInstanceName);
    const onCloudSql = vmsOf(stacks[topology]).filter((v) => kongConfValue(v.files[kongConfPath] ?? "", "pg_ssl") === "on");
    // Three gateways or Kong tiers and the migrator; hybrid's control planes and the migrator, never its data planes.
    expect(onCloudSql.length).toBe({ "shared-db": 4, standalone: 4, hybrid: 2 }[topology] ?? 0);
    for (const vm of onCloudSql) {
      const conf = vm.files[kongConfPath];
      expect([vm.name, kongConfValue(conf, "pg_ssl_verify"), kongConfValue(conf, "lua_ssl_trusted_certificate")]).toEqual([vm.name, "on", `system,${kongDatabaseCaPath}`]);
      // The CA the mock Cloud SQL reports for the primary (plan/mock-cloud.ts), as the real one reports serverCaCerts.
      expect(primary).toBeDefined();
      expect([vm.name, vm.files[kongDatabaseCaPath]]).toEqual([vm.name, mockCloudSqlCa]);
    }
  });

  it("keeps Kong's Admin and status APIs on loopback: the boot script alone talks to them (a control plane's status API: Google's checkers too)", () => {
    for (const { vm, conf } of kongConfs(stacks[topology])) {
      expect([vm, kongConfValue(conf, "admin_listen")]).toEqual([vm, expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
      const status = kongConfValue(conf, "status_listen")!;
      if (kongConfValue(conf, "role") !== "control_plane") expect([vm, status]).toEqual([vm, expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
      else {
        // Every address, for the internal load balancer's checks: only Google's checkers may reach it.
        const port = status.split(":")[1];
        const rules = ofType(stacks[topology], "gcp:compute/firewall:Firewall").map(inputs).filter((f) => f.allows.some((a: Inputs) => a.ports?.includes(port)));
        expect([vm, status, rules.map((r) => r.sourceRanges)]).toEqual([vm, `0.0.0.0:${port}`, [["35.191.0.0/16", "130.211.0.0/22"]]]);
      }
    }
  });

  it("answers Kong's health route with 200 in every config Kong may run on, as Google's health checks require", () => {
    const configs = vmsOf(stacks[topology]).flatMap((vm) => declarativeConfigsOf(vm).map((c) => ({ vm: vm.name, ...c })));
    expect(configs.length).toBeGreaterThanOrEqual(3);
    for (const { vm, what, yaml } of configs) {
      const routes = (parse(yaml).services ?? []).flatMap((s: Inputs) => s.routes ?? []).concat(parse(yaml).routes ?? []);
      const health = routes.find((r: Inputs) => r.paths?.includes(kongHealthPath));
      const termination = health?.plugins?.find((p: Inputs) => p.name === "request-termination");
      expect([vm, what, termination?.config?.status_code]).toEqual([vm, what, 200]);
    }
  });

  it("stops Kong's nginx gracefully (SIGQUIT, as Kong's own unit: build/package/kong.service at 3.9.1), finishing requests in flight", () => {
    const units = vmsOf(stacks[topology]).map((vm) => [vm.name, vm.files["/etc/systemd/system/kong.service"]]).filter(([, unit]) => unit);
    expect(units.length).toBeGreaterThanOrEqual(3);
    for (const [vm, unit] of units) expect([vm, /^KillSignal=(\S+)$/m.exec(unit!)?.[1]]).toEqual([vm, "SIGQUIT"]);
  });

  it("says in its header what holds the password only where it has one", () => {
    for (const { vm, conf } of kongConfs(stacks[topology])) {
      const header = conf.split("\n")[0];
      expect([vm, header.includes("password is a reference")]).toEqual([vm, kongConfValue(conf, "pg_password") !== undefined]);
    }
  });

  it("keeps idle connections longer than Google's load balancers do (600 s)", () => {
    for (const { vm, conf } of kongConfs(stacks[topology])) expect([vm, seconds(kongConfValue(conf, "nginx_proxy_keepalive_timeout")) > 600]).toEqual([vm, true]);
  });
});

describe("the standalone example stack", () => {
  const standalone = () => stacks.standalone;

  it("lets its entry service, which Google's load balancers reach directly, keep idle connections past their 600 s", () => {
    const entry = fleets(standalone().resources).filter((f) => f.loadBalanced);
    expect(entry.length).toBe(3);
    for (const fleet of entry) {
      const env = Object.entries(filesWrittenBy(fleet.script)).find(([path]) => path.endsWith(".env"))![1];
      // The messenger is Spring Boot 2.7 on Tomcat (config/messenger.ts behindGoogleLoadBalancer).
      expect([fleet.name, seconds(/^SERVER_TOMCAT_KEEPALIVETIMEOUT="?([^"\n]*)"?$/m.exec(env)?.[1]) > 600]).toEqual([fleet.name, true]);
    }
  });

  it("opens the firewall for every hop of every Kong route: Kong tier to each service tier, through its internal load balancer", () => {
    const resources = standalone().resources;
    const firewalls = inputsOfType(resources, "compute/firewall:Firewall").filter((f) => (f.direction ?? "INGRESS") === "INGRESS");
    const subnets = inputsOfType(resources, "compute/subnetwork:Subnetwork");
    const templates = inputsOfType(resources, "InstanceTemplate");
    const groups = fleets(resources);
    const admits = (sourceRange: string, tags: string[], port: number) =>
      firewalls.some(
        (f) =>
          f.sourceRanges.some((r: string) => overlaps(parseCidr(r)!, parseCidr(sourceRange)!) && parseCidr(r)!.prefixLength <= parseCidr(sourceRange)!.prefixLength) &&
          (!f.targetTags || f.targetTags.some((t: string) => tags.includes(t))) &&
          f.allows.some((a: Inputs) => a.protocol === "tcp" && (a.ports ?? []).includes(String(port))),
      );
    const subnetOf = (template: Inputs) => named(resources, "compute/subnetwork:Subnetwork", template.networkInterfaces[0].subnetwork);
    const migrator = inputs(ofType(standalone(), "gcp:compute/instance:Instance").find((r) => r.name === "geo-migrator-vm")!);
    const { services } = entitiesFromAdminRequests(filesWrittenBy(migrator.metadataStartupScript)["/etc/kong/admin-requests.tsv"]);
    expect(services.length).toBe(9);
    for (const service of services) {
      const url = new URL(service.url);
      const rule = inputsOfType(resources, "compute/forwardingRule:ForwardingRule").find((r) => r.ipAddress === url.hostname)!;
      expect([service.name, rule?.ports?.[0] ?? rule?.portRange]).toEqual([service.name, url.port]);
      const region = rule.region as string;
      const kongTemplate = templates.find((t) => t.metadataStartupScript === groups.find((g) => g.region === region && g.role === "kong-tier")!.script)!;
      // Passthrough keeps the Kong VM's address; an internal Application Load Balancer's proxies come from the region's proxy-only subnet.
      const passthrough = rule.loadBalancingScheme === "INTERNAL";
      const backendService = backendOf(resources, rule);
      const group = groups.find((g) => String(backendService.backends[0].group).endsWith(`/${g.name}`))!;
      const serviceTemplate = templates.find((t) => t.metadataStartupScript === group.script)!;
      const port = passthrough ? Number(url.port) : group.group.namedPorts.find((p: Inputs) => p.name === backendService.portName).port;
      const source = passthrough ? subnetOf(kongTemplate).ipCidrRange : subnets.find((s) => s.purpose === "REGIONAL_MANAGED_PROXY" && s.region === region).ipCidrRange;
      expect([service.name, group.name, port, admits(source, serviceTemplate.tags, port)]).toEqual([service.name, group.name, port, true]);
    }
  });
});

describe("Kong's database password", () => {
  it("is 32 letters and digits: it travels through an env file, a vault reference and libpq unquoted", () => {
    for (const topology of ["shared-db", "standalone"]) {
      const password = inputs(one(stacks[topology], "random:index/randomPassword:RandomPassword"));
      expect(password).toMatchObject({ length: 32, special: false });
    }
  });
});
