/** The us-multi stack as the Pulumi engine would see it: resources, wiring, security properties. */
import type { Recording } from "../plan/record";
import { mockPassword } from "../plan/mock-cloud";
import { zonesOf } from "../config/regions";
import { filesWrittenBy } from "../startup/startup-script";
import { inputs, ofType, one, recordStack } from "./support/stack";

const regions = ["us-west2", "us-central1", "us-east4"];
let stack: Recording;

beforeAll(async () => {
  stack = await recordStack("us-multi");
});

const byName = (type: string, name: string) => {
  const found = ofType(stack, type).find((r) => r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return inputs(found);
};

describe("the us-multi stack", () => {
  it("runs without errors", () => {
    expect(stack.errors).toEqual([]);
  });

  it("creates a subnet, router, NAT, template and regional group in every region", () => {
    for (const type of [
      "gcp:compute/subnetwork:Subnetwork",
      "gcp:compute/router:Router",
      "gcp:compute/routerNat:RouterNat",
      "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
      "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
    ]) {
      const found = ofType(stack, type);
      expect(found).toHaveLength(regions.length);
    }
    const groups = ofType(stack, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").map(inputs);
    expect(groups.map((g) => g.region).sort()).toEqual([...regions].sort());
  });

  it("plans non-overlapping subnets with Google access and a custom-mode VPC", () => {
    const vpc = inputs(one(stack, "gcp:compute/network:Network"));
    expect(vpc.autoCreateSubnetworks).toBe(false);
    const subnets = ofType(stack, "gcp:compute/subnetwork:Subnetwork").map(inputs);
    expect(new Set(subnets.map((s) => s.ipCidrRange)).size).toBe(regions.length);
    for (const subnet of subnets) expect(subnet.privateIpGoogleAccess).toBe(true);
  });

  it("gives NAT to every region for VMs without external addresses", () => {
    for (const nat of ofType(stack, "gcp:compute/routerNat:RouterNat").map(inputs)) {
      expect(nat).toMatchObject({ natIpAllocateOption: "AUTO_ONLY", sourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES" });
    }
  });

  it("opens only the load balancer's ranges to Kong's proxy port (its status listener is on loopback), and SSH only to IAP", () => {
    const rules = ofType(stack, "gcp:compute/firewall:Firewall").map(inputs);
    for (const rule of rules) expect(rule.sourceRanges).not.toContain("0.0.0.0/0");
    const lb = byName("gcp:compute/firewall:Firewall", "geo-network-allow-lb");
    expect(lb.sourceRanges.sort()).toEqual(["130.211.0.0/22", "35.191.0.0/16"]);
    expect(lb.allows).toEqual([{ protocol: "tcp", ports: ["8000"] }]);
    const ssh = byName("gcp:compute/firewall:Firewall", "geo-network-allow-iap-ssh");
    expect(ssh.sourceRanges).toEqual(["35.235.240.0/20"]);
    expect(ssh.allows).toEqual([{ protocol: "tcp", ports: ["22"] }]);
  });

  it("builds templates without external IPs, as shielded VMs with OS Login and their own service account", () => {
    for (const template of ofType(stack, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate").map(inputs)) {
      expect(template.name).toBeUndefined();
      expect(template.namePrefix).toMatch(/^geo-us-[a-z0-9-]+-$/);
      expect(template.networkInterfaces).toHaveLength(1);
      expect(template.networkInterfaces[0].accessConfigs ?? []).toEqual([]);
      expect(template.shieldedInstanceConfig).toEqual({ enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true });
      expect(template.metadata["enable-oslogin"]).toBe("TRUE");
      expect(template.serviceAccount.email).toMatch(/^geo-gw-us-[a-z0-9-]+@/);
      expect(template.serviceAccount.scopes).toEqual(["cloud-platform"]);
      expect(template.metadataStartupScript).toContain("readonly ROLE=gateway");
    }
  });

  it("points each group at its own region's template and names the port the backend uses", () => {
    const backend = inputs(one(stack, "gcp:compute/backendService:BackendService"));
    const templates = ofType(stack, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate");
    for (const region of regions) {
      const group = byName("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", `geo-${region}-group`);
      const template = templates.find((t) => t.name === `geo-${region}-template`)!;
      expect(inputs(template).region).toBe(region);
      expect(group.versions[0].instanceTemplate).toMatch(new RegExp(`/regions/${region}/instanceTemplates/${inputs(template).namePrefix}[0-9a-f]+$`));
      expect(group.namedPorts).toEqual([{ name: backend.portName, port: 8000 }]);
      expect(group.distributionPolicyZones).toEqual(zonesOf(region));
    }
  });

  it("rolls updates with a surge GCP accepts for each region's zone count", () => {
    for (const region of regions) {
      const { updatePolicy } = byName("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", `geo-${region}-group`);
      const zones = zonesOf(region).length;
      // A new VM per zone first, none taken away: full capacity throughout (GCP wants 0 or >= zones).
      expect(updatePolicy).toMatchObject({ replacementMethod: "SUBSTITUTE", maxSurgeFixed: zones, maxUnavailableFixed: 0 });
    }
  });

  it("autoheals on a separate check of Kong's health route, which touches no database, only after a first boot could have finished", () => {
    const lbCheck = byName("gcp:compute/healthCheck:HealthCheck", "geo-lb-health");
    for (const region of regions) {
      const group = byName("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager", `geo-${region}-group`);
      const autoheal = ofType(stack, "gcp:compute/healthCheck:HealthCheck").find((r) => r.name === `geo-${region}-autoheal`)!;
      expect(group.autoHealingPolicies.healthCheck).toContain(inputs(autoheal).name);
      expect(inputs(autoheal).name).not.toBe(lbCheck.name);
      expect(inputs(autoheal).httpHealthCheck).toEqual({ port: 8000, requestPath: "/geo-api-layer/health" });
      const budget = Number(/BOOT_BUDGET_SEC=(\d+)/.exec(byName("gcp:compute/regionInstanceTemplate:RegionInstanceTemplate", `geo-${region}-template`).metadataStartupScript)![1]);
      expect(group.autoHealingPolicies.initialDelaySec).toBeGreaterThanOrEqual(budget);
    }
  });

  it("balances over every region's group with one EXTERNAL_MANAGED scheme end to end", () => {
    const backend = inputs(one(stack, "gcp:compute/backendService:BackendService"));
    const groups = ofType(stack, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager");
    expect(backend.backends.map((b: { group: string }) => b.group).sort()).toEqual(
      groups.map((g) => `https://www.googleapis.com/compute/v1/projects/offline-plan-project/regions/${inputs(g).region}/instanceGroups/${inputs(g).name}`).sort(),
    );
    expect(backend).toMatchObject({ loadBalancingScheme: "EXTERNAL_MANAGED", protocol: "HTTP", logConfig: { enable: true } });
    expect(backend).toMatchObject({ sessionAffinity: "GENERATED_COOKIE", localityLbPolicy: "RING_HASH" });
    for (const rule of ofType(stack, "gcp:compute/globalForwardingRule:GlobalForwardingRule").map(inputs)) {
      expect(rule.loadBalancingScheme).toBe(backend.loadBalancingScheme);
    }
    const health = byName("gcp:compute/healthCheck:HealthCheck", "geo-lb-health");
    // Kong's health route on the proxy port: /status and /status/ready connect to the database.
    expect(health.httpHealthCheck).toEqual({ port: 8000, requestPath: "/geo-api-layer/health" });
    expect(backend.healthChecks).toContain(health.name);
  });

  it("keeps Cloud SQL private, encrypted in transit, highly available and recoverable", () => {
    const primary = byName("gcp:sql/databaseInstance:DatabaseInstance", "geo-db-us-central1");
    expect(primary.name).toBeUndefined();
    expect(primary.settings.ipConfiguration).toMatchObject({ ipv4Enabled: false, sslMode: "ENCRYPTED_ONLY" });
    expect(primary.settings.ipConfiguration.privateNetwork).toContain("networks/geo-vpc");
    expect(primary.settings.availabilityType).toBe("REGIONAL");
    const { zone, secondaryZone } = primary.settings.locationPreference;
    expect(zone.startsWith("us-central1-")).toBe(true);
    expect(secondaryZone.startsWith("us-central1-")).toBe(true);
    expect(secondaryZone).not.toBe(zone);
    expect(primary.settings.backupConfiguration).toMatchObject({ enabled: true, pointInTimeRecoveryEnabled: true });
    expect(primary.settings.edition).toBe("ENTERPRISE");
    // Both guards: Pulumi's refuses a delete in `pulumi destroy`; Google's own refuses it from anywhere.
    expect(primary.deletionProtection).toBe(true);
    expect(primary.settings.deletionProtectionEnabled).toBe(true);
    const connection = one(stack, "gcp:servicenetworking/connection:Connection");
    expect(ofType(stack, "gcp:sql/databaseInstance:DatabaseInstance").find((r) => r.name === "geo-db-us-central1")!.dependencies).toContain(connection.urn);
  });

  it("adds a private, highly available cross-region replica, for the day the primary's region is lost, that no gateway reads", () => {
    const replica = byName("gcp:sql/databaseInstance:DatabaseInstance", "geo-db-us-east4");
    expect([replica.region, replica.instanceType, replica.settings.availabilityType, replica.settings.locationPreference]).toEqual(["us-east4", "READ_REPLICA_INSTANCE", "REGIONAL", { zone: "us-east4-a", secondaryZone: "us-east4-b" }]);
    expect(replica.masterInstanceName).toMatch(/^geo-db-us-central1-/);
    expect(replica.settings.ipConfiguration.ipv4Enabled).toBe(false);
    // Kong never falls back from pg_ro_host to the primary, and a node reading a replica that lags past
    // db_update_propagation misses changes until the next one (the game days saw it after an outage).
    for (const region of regions) {
      const conf = filesWrittenBy(byName("gcp:compute/regionInstanceTemplate:RegionInstanceTemplate", `geo-${region}-template`).metadataStartupScript)["/etc/kong/kong.conf"];
      expect([region, /^pg_host = 10\.64\.\d+\.\d+$/m.test(conf), /^pg_ro_/m.test(conf)]).toEqual([region, true, false]);
    }
  });

  it("creates the kong user after the replica, once: a failover neither moves nor deletes Kong's login and database", () => {
    const user = ofType(stack, "gcp:sql/user:User")[0];
    const replica = ofType(stack, "gcp:sql/databaseInstance:DatabaseInstance").find((r) => r.name === "geo-db-us-east4")!;
    expect(user.dependencies).toContain(replica.urn);
    const database = one(stack, "gcp:sql/database:Database");
    expect(inputs(database)).toMatchObject({ name: "kong", deletionPolicy: "ABANDON" });
    expect([inputs(user).deletionPolicy, user.options]).toEqual(["ABANDON", { ignoreChanges: ["instance", "password"], retainOnDelete: true }]);
    expect([inputs(database).deletionPolicy, database.options]).toEqual(["ABANDON", { ignoreChanges: ["instance"], retainOnDelete: true }]);
  });

  it("retains every Cloud SQL instance that leaves the config, and names each by its region", () => {
    const instances = ofType(stack, "gcp:sql/databaseInstance:DatabaseInstance");
    expect(instances.map((r) => [r.name, inputs(r).region, r.options?.retainOnDelete])).toEqual([
      ["geo-db-us-central1", "us-central1", true],
      ["geo-db-us-east4", "us-east4", true],
    ]);
  });

  it("never holds the database password in plaintext in any resource input", () => {
    const password = mockPassword("geo-db-password");
    expect(JSON.stringify(stack.resources)).not.toContain(password);
    expect(inputs(one(stack, "gcp:secretmanager/secretVersion:SecretVersion")).secretData).toBe("[secret]");
    expect(inputs(one(stack, "gcp:sql/user:User")).password).toBe("[secret]");
  });

  it("lets each region's VMs read the password secret and nothing broader", () => {
    const members = ofType(stack, "gcp:secretmanager/secretIamMember:SecretIamMember").map(inputs);
    for (const region of regions) {
      const email = byName("gcp:serviceaccount/account:Account", `geo-${region}-sa`).accountId;
      const granted = members.filter((m) => m.member.includes(email));
      expect(granted.map((m) => m.secretId)).toContain("projects/offline-plan-project/secrets/geo-kong-db-password");
      for (const m of granted) expect(m.role).toBe("roles/secretmanager.secretAccessor");
    }
    const projectRoles = ofType(stack, "gcp:projects/iAMMember:IAMMember").map((m) => inputs(m).role);
    // Plus listing buckets, for the VMs running Attachments (test/pictures.test.ts).
    expect(new Set(projectRoles)).toEqual(new Set(["roles/logging.logWriter", "roles/monitoring.metricWriter", expect.stringMatching(/^projects\/offline-plan-project\/roles\/geo_pictures_lister_[0-9a-f]{8}$/)]));
  });

  it("runs Kong's migrations in exactly one place, which every gateway waits for", () => {
    const scripts = [...ofType(stack, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"), ...ofType(stack, "gcp:compute/instance:Instance")].map(
      (r) => inputs(r).metadataStartupScript as string,
    );
    const migrating = scripts.filter((s) => /^run_migrations finish-later$/m.test(s));
    expect(migrating).toHaveLength(1);
    expect(migrating[0]).toContain("readonly ROLE=migrator");
    expect(byName("gcp:compute/instance:Instance", "geo-migrator-vm").zone.startsWith("us-central1-")).toBe(true);
    const gateways = scripts.filter((x) => x.includes("ROLE=gateway"));
    expect(gateways).toHaveLength(regions.length);
    for (const s of gateways) {
      // choose_kong_database waits for the migrations, or starts from the fallback config.
      expect(s).toMatch(/^choose_kong_database$/m);
      expect(s).toMatch(/^  if wait_for_migrations; then$/m);
      expect(s).not.toMatch(/migrations (bootstrap|up)/);
    }
  });

  it("checks every public route through the load balancer after the rollout", () => {
    const check = byName("command:local:Command", "geo-check-routes");
    expect(check.environment.BASE_URL).toBe("http://203.0.113.10");
    expect(check.create).toMatch(/^check GET '\/' kong$/m);
    expect(check.create).toMatch(/^check GET '\/ping' kong$/m);
    expect(check.create).not.toContain("/upload");
    // A new template (a rollout), a new migrator or a load balancer change reruns the check.
    const templates = ofType(stack, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate").map(inputs);
    expect(check.triggers).toHaveLength(templates.length + 2);
    for (const t of templates) expect(check.triggers).toContainEqual(expect.stringContaining(`instanceTemplates/${t.namePrefix}`));
    expect(check.triggers).toContainEqual(expect.stringContaining("instances/geo-kong-migrator"));
    // It runs after every group and the forwarding rule exist, not merely after the address.
    const waitsFor = ofType(stack, "command:local:Command").find((c) => c.name === "geo-check-routes")!.dependencies;
    for (const r of [...ofType(stack, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"), one(stack, "gcp:compute/globalForwardingRule:GlobalForwardingRule")]) {
      expect(waitsFor).toContain(r.urn);
    }
  });

  it("labels what it can with the stack and the component that made it", () => {
    const labelled: [unknown, string][] = [
      ...ofType(stack, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate").map((r): [unknown, string] => [inputs(r).labels, "regional-tier"]),
      [inputs(one(stack, "gcp:secretmanager/secret:Secret")).labels, "kong-database"],
      [byName("gcp:sql/databaseInstance:DatabaseInstance", "geo-db-us-central1").settings.userLabels, "kong-database"],
      [byName("gcp:storage/bucket:Bucket", "geo-pictures-bucket").labels, "pictures-bucket"],
      [byName("gcp:storage/bucket:Bucket", "geo-builds-bucket").labels, "service-builds"],
      [byName("gcp:compute/instance:Instance", "geo-builds-builder").labels, "service-builds"],
    ];
    expect(labelled).toHaveLength(8);
    for (const [labels, component] of labelled) expect(labels).toEqual({ "managed-by": "geo-api-layer", stack: "us-multi", component });
  });
});
