/** The policy pack's rules: each catches what it is for and passes what is fine; every example stack complies. */
import { checkPolicies, policyResource, policyRules, PolicyResource, ResourcePolicyRule } from "../policy/rules";
import { exampleStacks } from "../scripts/outage-table";
import { recordStack } from "./support/stack";

const rule = (name: string) => policyRules.find((r): r is ResourcePolicyRule => r.name === name && "check" in r)!;
const template = (props: Record<string, unknown>): PolicyResource => ({
  type: "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
  name: "t",
  props: {
    networkInterfaces: [{ subnetwork: "s" }],
    metadata: vmMetadata,
    shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
    labels: { stack: "s", component: "c" },
    metadataStartupScript: "admin_listen = 127.0.0.1:8001\n",
    ...props,
  },
});
const firewall = (sourceRanges: string[], allows: unknown[]): PolicyResource => ({
  type: "gcp:compute/firewall:Firewall",
  name: "f",
  props: { direction: "INGRESS", sourceRanges, allows },
});
const database = (overrides: Record<string, unknown> = {}, settings: Record<string, unknown> = {}): PolicyResource => ({
  type: "gcp:sql/databaseInstance:DatabaseInstance",
  name: "db",
  props: {
    deletionProtection: true,
    settings: {
      ipConfiguration: { ipv4Enabled: false, sslMode: "ENCRYPTED_ONLY" },
      backupConfiguration: { enabled: true },
      deletionProtectionEnabled: true,
      userLabels: { stack: "s", component: "c" },
      ...settings,
    },
    ...overrides,
  },
});

const bucketGrant = (member: string, role = "roles/storage.legacyObjectReader"): PolicyResource => ({
  type: "gcp:storage/bucketIAMMember:BucketIAMMember",
  name: "g",
  props: { bucket: "pictures-geo-p", role, member },
});
const resource = (type: string, props: Record<string, unknown>): PolicyResource => ({ type, name: "r", props });
const vmMetadata = { "enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE" };

describe.each([
  ["firewall-open-only-to-load-balancers", firewall(["0.0.0.0/0"], [{ protocol: "tcp", ports: ["80"] }]), firewall(["35.191.0.0/16", "130.211.0.0/22"], [{ protocol: "tcp", ports: ["8000", "8100"] }]), "open to the world"],
  ["firewall-open-only-to-load-balancers", firewall(["35.191.0.0/16"], [{ protocol: "all" }]), firewall(["10.0.0.0/20"], [{ protocol: "all" }]), "may reach only listed TCP ports"],
  ["firewall-open-only-to-load-balancers", firewall(["35.235.240.0/20"], [{ protocol: "tcp", ports: ["22", "3389"] }]), firewall(["35.235.240.0/20"], [{ protocol: "tcp", ports: ["22"] }]), "may reach only tcp:22"],
  ["no-external-ip", template({ networkInterfaces: [{ subnetwork: "s", accessConfigs: [{}] }] }), template({}), "external IP"],
  ["shielded-vm", template({ shieldedInstanceConfig: { enableSecureBoot: false, enableVtpm: true, enableIntegrityMonitoring: true } }), template({}), "enableSecureBoot"],
  ["cloud-sql-private-encrypted-protected", database({}, { ipConfiguration: { ipv4Enabled: true, sslMode: "ENCRYPTED_ONLY" } }), database(), "no public IP"],
  ["cloud-sql-private-encrypted-protected", database({}, { ipConfiguration: { ipv4Enabled: false, sslMode: "ALLOW_UNENCRYPTED_AND_ENCRYPTED" } }), database(), "allows unencrypted"],
  ["cloud-sql-private-encrypted-protected", database({ deletionProtection: false }), database(), "deletionProtection must be true"],
  ["cloud-sql-private-encrypted-protected", database({}, { deletionProtectionEnabled: false }), database(), "settings.deletionProtectionEnabled"],
  ["cloud-sql-private-encrypted-protected", database({}, { backupConfiguration: { enabled: false } }), database({ masterInstanceName: "p" }, { backupConfiguration: undefined }), "backupConfiguration"],
  ["kong-admin-api-on-loopback", template({ metadataStartupScript: "admin_listen = 0.0.0.0:8001\n" }), template({ metadataStartupScript: "admin_listen = 127.0.0.1:8001, 127.0.0.1:8444 ssl\n" }), "not only on loopback"],
  ["kong-admin-api-on-loopback", template({ metadata: { "user-data": 'KONG_ADMIN_LISTEN="0.0.0.0:8001"' } }), template({ metadata: { "user-data": "KONG_ADMIN_LISTEN=off" } }), "not only on loopback"],
  ["no-secret-in-metadata", template({ metadata: { env: "DB_PASSWORD=hunter2hunter2" } }), template({ metadataStartupScript: 'kong_env=$(secret_env_line KONG_PG_PASSWORD \'projects/p/secrets/s/versions/latest\')' }), "DB_PASSWORD has a literal value"],
  ["no-secret-in-metadata", template({ metadataStartupScript: 'REPORTS="postgres://app:s3cr3t@db:5432/app"\n' }), template({ metadataStartupScript: 'DB_URL="jdbc:postgresql://db:5433/app"\n' }), "REPORTS has a literal value"],
  ["no-private-key-in-metadata", template({ metadataStartupScript: "write_file /etc/kong/cluster.key 0600 <<'EOF'\n-----BEGIN PRIVATE KEY-----\nMIG2\n" }), template({ metadataStartupScript: "-----BEGIN CERTIFICATE-----\nMIIB\n" }), "a private key is in the VM's metadata"],
  ["labelled-with-stack-and-component", template({ labels: { stack: "s" } }), template({}), "labels lack component"],
  ["bucket-readable-by-everyone", bucketGrant("allUsers"), bucketGrant("serviceAccount:vm@p.iam.gserviceaccount.com"), "allUsers has roles/storage.legacyObjectReader on bucket pictures-geo-p (geo-api-layer:pictures.publicRead)"],
  ["public-read-without-list", bucketGrant("allUsers", "roles/storage.objectViewer"), bucketGrant("allUsers"), "allUsers has roles/storage.objectViewer; public read must be roles/storage.legacyObjectReader"],
  ["ssh-only-through-os-login", template({ metadata: { ...vmMetadata, "block-project-ssh-keys": "FALSE" } }), template({}), 'block-project-ssh-keys must be TRUE, not "FALSE"'],
  ["ssh-only-through-os-login", template({ metadata: { "block-project-ssh-keys": "TRUE" } }), template({}), "enable-oslogin must be TRUE"],
  ["https-tls-1-2", resource("gcp:compute/targetHttpsProxy:TargetHttpsProxy", { urlMap: "m" }), resource("gcp:compute/targetHttpsProxy:TargetHttpsProxy", { sslPolicy: "p" }), "no sslPolicy"],
  ["https-tls-1-2", resource("gcp:compute/sSLPolicy:SSLPolicy", { profile: "MODERN" }), resource("gcp:compute/sSLPolicy:SSLPolicy", { minTlsVersion: "TLS_1_2" }), "minTlsVersion TLS_1_0 is below TLS_1_2"],
  ["certificate-manager-names", resource("gcp:certificatemanager/certificate:Certificate", { name: "geo-api.example.com-1a2b3c4" }), resource("gcp:certificatemanager/certificate:Certificate", { name: "geo-api-example-com-1a2b3c4d" }), "is not [a-zA-Z]"],
  ["certificate-manager-names", resource("gcp:certificatemanager/dnsAuthorization:DnsAuthorization", { domain: "api.example.com" }), resource("gcp:certificatemanager/dnsAuthorization:DnsAuthorization", { name: "a" }), "name undefined"],
  ["backend-balancing-modes", resource("gcp:compute/regionBackendService:RegionBackendService", { loadBalancingScheme: "INTERNAL", backends: [{ group: "g", balancingMode: "UTILIZATION" }] }), resource("gcp:compute/regionBackendService:RegionBackendService", { loadBalancingScheme: "INTERNAL", backends: [{ group: "g", balancingMode: "CONNECTION" }] }), "balancingMode UTILIZATION is not one of CONNECTION for INTERNAL"],
  ["backend-balancing-modes", resource("gcp:compute/backendService:BackendService", { loadBalancingScheme: "EXTERNAL_MANAGED", backends: [{ group: "g", balancingMode: "CONNECTION" }] }), resource("gcp:compute/backendService:BackendService", { loadBalancingScheme: "EXTERNAL_MANAGED", backends: [{ group: "g", balancingMode: "UTILIZATION" }] }), "balancingMode CONNECTION is not one of UTILIZATION, RATE"],
  ["apis-stay-on-at-destroy", resource("gcp:projects/service:Service", { service: "sqladmin.googleapis.com", disableOnDestroy: true }), resource("gcp:projects/service:Service", { service: "sqladmin.googleapis.com", disableOnDestroy: false }), "sqladmin.googleapis.com would be turned off"],
])("%s", (name, violating, compliant, message) => {
  it("reports the violation", () => {
    expect(rule(name).check(violating).join("\n")).toContain(message);
  });
  it("passes the compliant resource", () => {
    expect(rule(name).check(compliant)).toEqual([]);
  });
});

describe("every example stack", () => {
  it.each(Object.values(exampleStacks))("%s passes every policy", async (stack) => {
    const recording = await recordStack(stack);
    expect(recording.errors).toEqual([]);
    expect(checkPolicies(recording.resources.map(policyResource))).toEqual([]);
  });

  it("passes every policy with HTTPS on", async () => {
    const recording = await recordStack("us-multi", { loadBalancer: { domains: ["api.example.com"] } });
    const resources = recording.resources.map(policyResource);
    expect(resources.filter((r) => /certificatemanager|sSLPolicy|targetHttpsProxy/.test(r.type)).length).toBe(6);
    expect(checkPolicies(resources)).toEqual([]);
  });

  it("names the stack file's public read of the pictures bucket as the one advisory", async () => {
    const recording = await recordStack("us-multi");
    const advisories = checkPolicies(recording.resources.map(policyResource), "advisory");
    expect(advisories.map((a) => [a.rule, a.resource])).toEqual([["bucket-readable-by-everyone", "gcp:storage/bucketIAMMember:BucketIAMMember::geo-pictures-public-read"]]);
  });

  it("would fail a hybrid plan whose data plane may read Kong's database password, or names a database", async () => {
    const recording = await recordStack("us-hybrid");
    const resources: PolicyResource[] = recording.resources.map((r) => structuredClone(policyResource(r)));
    const dataPlane = resources.find((r) => r.name === "geo-us-east4-template")!;
    const passwordGrant = resources.find((r) => r.type === "gcp:secretmanager/secretIamMember:SecretIamMember" && String(r.props.secretId).endsWith("/geo-kong-db-password"))!;
    resources.push({ ...passwordGrant, name: "extra", props: { ...passwordGrant.props, member: `serviceAccount:${dataPlane.props.serviceAccount.email}` } });
    dataPlane.props.metadataStartupScript = dataPlane.props.metadataStartupScript.replace("database = off\n", "database = off\npg_host = 10.64.0.2\n");
    expect(checkPolicies(resources).map((v) => [v.rule, v.resource, v.message])).toEqual([
      ["kong-data-planes-off-the-database", "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate::geo-us-east4-template", "a data plane's kong.conf names a database"],
      ["kong-data-planes-off-the-database", "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate::geo-us-east4-template", "its account geo-gw-us-e4@offline-plan-project.iam.gserviceaccount.com may read Kong's database password"],
    ]);
  });

  it("would fail a plan whose VM got an external IP: the builder's and the migrator's alike", async () => {
    const recording = await recordStack("us-multi");
    const names = recording.resources.filter((r) => r.type === "gcp:compute/instance:Instance").map((r) => r.name);
    expect(names.sort()).toEqual(["geo-builds-builder", "geo-migrator-vm"]);
    for (const name of names) {
      const resources: PolicyResource[] = recording.resources.map((r) => structuredClone(policyResource(r)));
      resources.find((r) => r.type === "gcp:compute/instance:Instance" && r.name === name)!.props.networkInterfaces[0].accessConfigs = [{ natIp: "" }];
      expect(checkPolicies(resources)).toEqual([{ rule: "no-external-ip", resource: `gcp:compute/instance:Instance::${name}`, message: "a network interface has an access config (an external IP)" }]);
    }
  });
});
