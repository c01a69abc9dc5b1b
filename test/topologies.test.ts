/** Each topology is one config value: what it creates, what it must not, and how it survives a region outage. */
import { readFileSync } from "fs";
import { join } from "path";
import type { RecordedResource, Recording } from "../plan/record";
import { databaseRoles, groupRegions, kongRouteTargets, outageReport, renderOutageRow } from "../plan/outage";
import { oneShotVms } from "../plan/fleet";
import { filesWrittenBy, roleOf } from "../startup/startup-script";
import { exampleStacks } from "../scripts/outage-table";
import { inputs, ofType, one, projectDir, recordStack } from "./support/stack";
import { checkFile } from "./support/tools";
import { onCloudSql } from "./support/topologies";

const stacks: Record<string, Recording> = {};

/** The API a Google resource type needs enabled (its provider module's service). */
function apiOf(type: string): string {
  const module = type.split(":")[1].split("/")[0];
  const apis: Record<string, string> = {
    compute: "compute",
    serviceaccount: "iam",
    secretmanager: "secretmanager",
    sql: "sqladmin",
    servicenetworking: "servicenetworking",
    storage: "storage",
    logging: "logging",
    monitoring: "monitoring",
  };
  // Project IAM bindings go through Cloud Resource Manager; custom roles are IAM's.
  const api = module === "projects" ? (type.endsWith(":IAMCustomRole") ? "iam" : "cloudresourcemanager") : apis[module];
  if (!api) throw new Error(`no API known for ${type}`);
  return `${api}.googleapis.com`;
}
beforeAll(async () => {
  for (const [topology, stack] of Object.entries(exampleStacks)) stacks[topology] = await recordStack(stack);
});

const templates = (topology: string) => {
  const found = ofType(stacks[topology], "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate").map(inputs);
  expect(found.length).toBeGreaterThanOrEqual(3);
  return found;
};
const lbHealth = (topology: string) =>
  ofType(stacks[topology], "gcp:compute/healthCheck:HealthCheck").map(inputs).find((h) => h.name === "geo-lb-health").httpHealthCheck;

describe.each(Object.keys(exampleStacks))("the %s example stack", (topology) => {
  it("plans without errors, with every region behind the global load balancer", () => {
    expect(stacks[topology].errors).toEqual([]);
    const backend = inputs(one(stacks[topology], "gcp:compute/backendService:BackendService"));
    expect(backend.backends).toHaveLength(3);
  });

  it("fails a region over within 10 s: the load balancer's check every 5 s, out after 2 failures", () => {
    const check = ofType(stacks[topology], "gcp:compute/healthCheck:HealthCheck").map(inputs).find((h) => h.name === "geo-lb-health");
    expect(check).toMatchObject({ checkIntervalSec: 5, timeoutSec: 5, healthyThreshold: 2, unhealthyThreshold: 2 });
    expect(check.checkIntervalSec * check.unhealthyThreshold).toBeLessThanOrEqual(10);
  });

  it("gives every group the named port each backend service that balances it asks for", () => {
    const groups = ofType(stacks[topology], "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").map(inputs);
    const named = [
      ...ofType(stacks[topology], "gcp:compute/backendService:BackendService"),
      ...ofType(stacks[topology], "gcp:compute/regionBackendService:RegionBackendService"),
    ]
      .map(inputs)
      .filter((b) => b.portName);
    expect(named.length).toBeGreaterThan(0);
    for (const backend of named) {
      for (const { group } of backend.backends) {
        const manager = groups.find((g) => group.endsWith(`/instanceGroups/${g.name}`));
        expect([backend.name, manager?.namedPorts.map((p: { name: string }) => p.name)]).toEqual([backend.name, expect.arrayContaining([backend.portName])]);
      }
    }
  });

  it("gives every instance group one balancing mode across all the backend services it is a backend of", () => {
    // Google: "backends have incompatible balancing_mode. Values should be the same".
    const modes = new Map<string, Set<string>>();
    const backendServices = [
      ...ofType(stacks[topology], "gcp:compute/backendService:BackendService"),
      ...ofType(stacks[topology], "gcp:compute/regionBackendService:RegionBackendService"),
    ];
    for (const backend of backendServices.flatMap((b) => inputs(b).backends)) {
      modes.set(backend.group, new Set([...(modes.get(backend.group) ?? []), backend.balancingMode]));
    }
    const groups = ofType(stacks[topology], "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager");
    // Every group a backend: standalone's tiers each behind an internal one, the entry tier behind both.
    expect(modes.size).toBe(groups.length);
    const mixed = [...modes].filter(([, m]) => m.size > 1).map(([group, m]) => `${group}: ${[...m].join(", ")}`);
    expect(mixed).toEqual([]);
  });

  it("gives Cloud SQL replicas no replicaConfiguration (MySQL's, ForceNew) and abandons the peering on destroy", () => {
    const recording = stacks[topology];
    for (const replica of ofType(recording, "gcp:sql/databaseInstance:DatabaseInstance").filter((d) => inputs(d).masterInstanceName)) {
      expect(inputs(replica).replicaConfiguration).toBeUndefined();
    }
    for (const connection of ofType(recording, "gcp:servicenetworking/connection:Connection")) expect(inputs(connection).deletionPolicy).toBe("ABANDON");
    const usesCloudSql = onCloudSql(topology);
    expect(ofType(recording, "gcp:servicenetworking/connection:Connection")).toHaveLength(usesCloudSql ? 1 : 0);
  });

  it("creates every Google resource after the enablement of its API, directly or through what it uses", () => {
    const recording = stacks[topology];
    const byUrn = new Map(recording.resources.map((r) => [r.urn, r]));
    const enabled = (r: RecordedResource, api: string, seen = new Set<string>()): boolean =>
      r.dependencies.some((urn) => {
        if (seen.has(urn)) return false;
        seen.add(urn);
        const dependency = byUrn.get(urn)!;
        return (dependency.type === "gcp:projects/service:Service" && inputs(dependency).service === api) || enabled(dependency, api, seen);
      });
    const google = recording.resources.filter((r) => r.type.startsWith("gcp:") && r.type !== "gcp:projects/service:Service");
    expect(google.length).toBeGreaterThan(40);
    const missing = google
      .map((r) => ({ r, api: apiOf(r.type) }))
      .filter(({ r, api }) => !enabled(r, api))
      .map(({ r, api }) => `${r.type}::${r.name} does not wait for ${api}`);
    expect(missing).toEqual([]);
  });

  it("creates every VM after its account's grant on each secret its boot script reads", () => {
    const recording = stacks[topology];
    const grants = ofType(recording, "gcp:secretmanager/secretIamMember:SecretIamMember");
    const vms = [...ofType(recording, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"), ...ofType(recording, "gcp:compute/instance:Instance")];
    const reads = vms.flatMap((vm) =>
      [...inputs(vm).metadataStartupScript.matchAll(/secret_env_line \w+ '(projects\/[^/]+\/secrets\/[^/]+)\/versions\/latest'/g)].map(([, secret]) => ({ vm, secret })),
    );
    expect(reads.length).toBeGreaterThan(0);
    for (const { vm, secret } of reads) {
      const grant = grants.find((g) => inputs(g).secretId === secret && inputs(g).member === `serviceAccount:${inputs(vm).serviceAccount.email}`);
      expect([vm.name, secret, grant && vm.dependencies.includes(grant.urn)]).toEqual([vm.name, secret, true]);
    }
  });

  it("boot scripts of every template and the migrator pass shellcheck with no finding of any severity, and bash -n", () => {
    const vms = [...templates(topology), ...ofType(stacks[topology], "gcp:compute/instance:Instance").map(inputs)];
    for (const vm of vms) {
      const name = vm.namePrefix ?? vm.name;
      expect({ name, ...checkFile(["shellcheck", "--severity=style", "--shell=bash"], "boot.sh", vm.metadataStartupScript) }).toEqual({ name, status: 0, output: "" });
      expect(checkFile(["bash", "-n"], "boot.sh", vm.metadataStartupScript).status).toBe(0);
    }
  });
});

describe("sidecar and dbless", () => {
  it.each(["sidecar", "dbless"])("%s creates no Cloud SQL, no peering, no secret and no migrator", (topology) => {
    for (const type of [
      "gcp:sql/databaseInstance:DatabaseInstance",
      "gcp:servicenetworking/connection:Connection",
      "gcp:secretmanager/secret:Secret",
    ]) {
      expect(ofType(stacks[topology], type)).toHaveLength(0);
    }
    // Its one VM outside a group is the builder.
    expect(ofType(stacks[topology], "gcp:compute/instance:Instance").map((r) => roleOf(inputs(r).metadataStartupScript))).toEqual(["builder"]);
  });

  it("sidecar VMs create their own database, migrate it and write their own entities, with routes on loopback", () => {
    for (const t of templates("sidecar")) {
      const script: string = t.metadataStartupScript;
      expect(script).toMatch(/^prepare_local_database\nrun_migrations finish-now\n/m);
      expect(script).toMatch(/^apply_kong_entities$/m);
      expect(script).not.toContain("secret_env_line KONG_PG_PASSWORD");
      const conf = filesWrittenBy(script)["/etc/kong/kong.conf"];
      expect(conf).toMatch(/^pg_host = 127\.0\.0\.1$/m);
      const targets = kongRouteTargets(script);
      expect(targets.length).toBeGreaterThan(0);
      expect(targets.filter((r) => r.host !== "127.0.0.1")).toEqual([]);
    }
  });

  it("dbless VMs run Kong with database = off from a declarative config (Kong's parser judges it: test/kong-judges.test.ts)", () => {
    for (const t of templates("dbless")) {
      const files = filesWrittenBy(t.metadataStartupScript);
      expect(files["/etc/kong/kong.conf"]).toMatch(/^database = off$/m);
      expect(files["/etc/kong/kong.conf"]).toMatch(/^declarative_config = \/etc\/kong\/kong\.yaml$/m);
      expect(files["/etc/kong/kong.yaml"]).toMatch(/^_format_version: "3.0"$/m);
    }
  });

  it("check, as shared-db does, Kong's health route on its proxy port, which touches no database", () => {
    for (const topology of ["sidecar", "dbless", "shared-db"]) {
      expect([topology, lbHealth(topology)]).toEqual([topology, { port: 8000, requestPath: "/geo-api-layer/health" }]);
    }
  });
});

describe("standalone", () => {
  it("creates a Kong tier and a tier per service in every region, each behind an internal load balancer", () => {
    const stack = stacks.standalone;
    const groups = ofType(stack, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").map((g) => inputs(g).name).sort();
    expect(groups).toEqual(
      ["us-central1", "us-east4", "us-west2"].flatMap((r) => ["attachments", "kong", "messaging"].map((t) => `geo-${r}-${t}`)),
    );
    const rules = ofType(stack, "gcp:compute/forwardingRule:ForwardingRule").map(inputs);
    expect(rules).toHaveLength(9);
    const schemes = Object.fromEntries(rules.map((r) => [r.name, r.loadBalancingScheme]));
    expect(schemes).toEqual(
      Object.fromEntries(
        ["us-central1", "us-east4", "us-west2"].flatMap((r) =>
          ["attachments", "kong", "messaging"].map((t) => [`geo-${r}-${t}-ilb`, t === "messaging" ? "INTERNAL_MANAGED" : "INTERNAL"]),
        ),
      ),
    );
  });

  it("puts the entry tier behind an internal Application Load Balancer that its region's proxies reach", () => {
    const stack = stacks.standalone;
    const byUrn = new Map(stack.resources.map((r) => [r.urn, r]));
    const proxySubnets = ofType(stack, "gcp:compute/subnetwork:Subnetwork").filter((s) => inputs(s).purpose === "REGIONAL_MANAGED_PROXY");
    expect(proxySubnets.map((s) => [inputs(s).region, inputs(s).ipCidrRange, inputs(s).role])).toEqual([
      ["us-west2", "10.72.6.0/24", "ACTIVE"],
      ["us-central1", "10.72.0.0/24", "ACTIVE"],
      ["us-east4", "10.72.2.0/24", "ACTIVE"],
    ]);
    const managed = ofType(stack, "gcp:compute/forwardingRule:ForwardingRule").filter((r) => inputs(r).loadBalancingScheme === "INTERNAL_MANAGED");
    expect(managed).toHaveLength(3);
    for (const rule of managed) {
      // Google refuses an INTERNAL_MANAGED forwarding rule in a region without an active proxy-only subnet.
      const subnet = proxySubnets.find((s) => inputs(s).region === inputs(rule).region)!;
      expect(rule.dependencies).toContain(subnet.urn);
      const proxy = byUrn.get(rule.dependencies.find((d) => d.includes("RegionTargetHttpProxy"))!)!;
      const urlMap = byUrn.get(proxy.dependencies.find((d) => d.includes("RegionUrlMap"))!)!;
      const backend = inputs(byUrn.get(urlMap.dependencies.find((d) => d.includes("RegionBackendService"))!)!);
      expect(backend).toMatchObject({ loadBalancingScheme: "INTERNAL_MANAGED", protocol: "HTTP", portName: "messaging" });
      const group = ofType(stack, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
        .map(inputs)
        .find((g) => backend.backends[0].group.endsWith(`/${g.name}`));
      expect(group.namedPorts).toEqual([{ name: "messaging", port: 8080 }]);
    }
    const firewall = ofType(stack, "gcp:compute/firewall:Firewall").map(inputs).find((f) => f.name === "geo-allow-proxies");
    expect(firewall).toMatchObject({ sourceRanges: proxySubnets.map((s) => inputs(s).ipCidrRange), allows: [{ protocol: "tcp", ports: ["8080"] }] });
  });

  it("fronts the user-facing service with the global load balancer, checking its own health path", () => {
    const backend = inputs(one(stacks.standalone, "gcp:compute/backendService:BackendService"));
    expect(backend.backends.map((b: { group: string }) => b.group.split("/").pop()).sort()).toEqual([
      "geo-us-central1-messaging",
      "geo-us-east4-messaging",
      "geo-us-west2-messaging",
    ]);
    expect(backend.portName).toBe("messaging");
    expect(lbHealth("standalone")).toEqual({ port: 8080, requestPath: "/login" });
  });

  it("never points a regional route at another region's backend", () => {
    const migrator = oneShotVms(stacks.standalone.resources, "migrator")[0];
    const ilbs = ofType(stacks.standalone, "gcp:compute/forwardingRule:ForwardingRule").map(inputs);
    const prefixes: Record<string, string> = { "us-west2": "/api/us/west", "us-central1": "/api/us/central", "us-east4": "/api/us/east" };
    const targets = kongRouteTargets(migrator.metadataStartupScript);
    expect(targets).toHaveLength(9);
    for (const target of targets) {
      const ilb = ilbs.find((f) => f.ipAddress === target.host);
      expect(ilb).toBeDefined();
      for (const path of target.paths) expect(path.startsWith(prefixes[ilb.region])).toBe(true);
    }
    expect(targets.map((t) => t.paths[0])).toContain("/api/us/east/upload");
  });

  it("points each region's Messaging at its own region's Kong", () => {
    const ilbs = ofType(stacks.standalone, "gcp:compute/forwardingRule:ForwardingRule").map(inputs);
    const messaging = templates("standalone").filter((x) => x.namePrefix.endsWith("-messaging-"));
    expect(messaging).toHaveLength(3);
    for (const t of messaging) {
      const region = /^geo-(.+)-messaging-$/.exec(t.namePrefix)![1];
      const kong = ilbs.find((f) => f.name === `geo-${region}-kong-ilb`);
      const route = /^KONG_ATTACHMENTS_API_ROUTE="(.*)"$/m.exec(t.metadataStartupScript)![1];
      expect(route).toMatch(new RegExp(`^http://${kong.ipAddress.replace(/\./g, "\\.")}:8000/api/us/[a-z]+/upload$`));
    }
  });
});

describe("a region outage", () => {
  it("keeps every public route served from the other two regions, in every topology", () => {
    for (const topology of Object.keys(exampleStacks)) {
      for (const lost of groupRegions(stacks[topology].resources)) {
        const report = outageReport(stacks[topology].resources, lost);
        const global = report.routes.filter((r) => r.entry === "global");
        expect(global.length).toBeGreaterThan(0);
        for (const route of global) {
          expect(route.servedFrom).toHaveLength(2);
          expect(route.servedFrom).not.toContain(lost);
        }
      }
    }
  });

  it("loses exactly the lost region's regional routes in standalone", () => {
    const report = outageReport(stacks.standalone.resources, "us-east4");
    const regional = report.routes.filter((r) => r.entry === "regional");
    const lost = regional.filter((r) => r.servedFrom.length === 0);
    expect(lost.map((r) => r.paths[0]).sort()).toEqual(["/api/us/east", "/api/us/east/ping", "/api/us/east/upload"]);
  });

  it("freezes Kong's config only where a shared database's primary is lost, and new VMs join everywhere", () => {
    const byRegion = (topology: string, region: string) => outageReport(stacks[topology].resources, region);
    // shared-db gateways and standalone's Kong tier start from their fallback config.
    for (const topology of ["shared-db", "standalone"]) expect(byRegion(topology, "us-central1")).toMatchObject({ configChanges: false, newVms: true });
    // Only the replica's own region reads from it.
    expect(byRegion("shared-db", "us-east4")).toMatchObject({ configChanges: true, newVms: true });
    expect(byRegion("shared-db", "us-west2")).toMatchObject({ configChanges: true, newVms: true });
    for (const topology of ["sidecar", "dbless"]) {
      for (const region of ["us-central1", "us-east4", "us-west2"]) expect(byRegion(topology, region)).toMatchObject({ configChanges: true, newVms: true });
    }
  });

  it("is described in the README exactly as these tests find it", () => {
    const readme = readFileSync(join(projectDir, "README.md"), "utf8");
    for (const [topology, stack] of Object.entries(stacks)) {
      for (const region of groupRegions(stack.resources)) {
        expect(readme).toContain(renderOutageRow(topology, outageReport(stack.resources, region), databaseRoles(stack.resources)));
      }
    }
  });
});
