/**
 * The hybrid topology's wiring, read from the recorded us-hybrid plan: control planes with the
 * database in its primary region behind a passthrough load balancer with global access, data
 * planes without any way to the database, the cluster certificate and its key's secrecy.
 */
import { X509Certificate } from "crypto";
import { mockKongClusterKey } from "../plan/mock-cloud";
import type { Recording } from "../plan/record";
import { kongClusterCertPath, kongClusterKeyPath, kongConfValue } from "../startup/kong-conf";
import { fallbackConfigPath } from "../startup/kong-fallback";
import { kongConfPath } from "../startup/systemd";
import { vmsOf, withKong } from "./support/rendered-vms";
import { inputs, ofType, one, recordStack } from "./support/stack";

let stack: Recording;
beforeAll(async () => {
  stack = await recordStack("us-hybrid");
  expect(stack.errors).toEqual([]);
});

const kongVms = () => withKong(vmsOf(stack));
const confOf = (vm: { files: Record<string, string> }) => vm.files[kongConfPath];
const dataPlanes = () => kongVms().filter((vm) => kongConfValue(confOf(vm), "role") === "data_plane");
const controlPlanes = () => kongVms().filter((vm) => vm.role === "control-plane");

describe("hybrid's control planes", () => {
  it("are one group of two VMs over the zones of the database's primary region", () => {
    const group = ofType(stack, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").map(inputs).find((g) => g.name === "geo-us-central1-cp")!;
    expect(group).toBeDefined();
    expect(group.targetSize).toBe(2);
    expect(group.distributionPolicyZones.length).toBeGreaterThanOrEqual(2);
    const primary = ofType(stack, "gcp:sql/databaseInstance:DatabaseInstance").map(inputs).find((d) => !d.masterInstanceName);
    expect(group.region).toBe(primary.region);
    expect(controlPlanes().map((vm) => [kongConfValue(confOf(vm), "role"), kongConfValue(confOf(vm), "proxy_listen"), kongConfValue(confOf(vm), "cluster_listen")])).toEqual([["control_plane", "off", "0.0.0.0:8005"]]);
  });

  it("are reached through an internal passthrough load balancer with global access, the cluster port open to the stack's subnets only", () => {
    const rule = ofType(stack, "gcp:compute/forwardingRule:ForwardingRule").map(inputs).find((r) => r.name === "geo-us-central1-cp-ilb")!;
    expect([rule.loadBalancingScheme, rule.ports, rule.allowGlobalAccess]).toEqual(["INTERNAL", ["8005"], true]);
    const backend = ofType(stack, "gcp:compute/regionBackendService:RegionBackendService").map(inputs).find((b) => b.name === "geo-us-central1-cp-ilb")!;
    expect([backend.loadBalancingScheme, backend.protocol]).toEqual(["INTERNAL", "TCP"]);
    const subnets = ofType(stack, "gcp:compute/subnetwork:Subnetwork").map((s) => inputs(s).ipCidrRange).sort();
    const opening = ofType(stack, "gcp:compute/firewall:Firewall").map(inputs).filter((f) => f.allows.some((a: { ports?: string[] }) => a.ports?.includes("8005")));
    expect(opening.map((f) => [f.sourceRanges.slice().sort(), f.targetTags])).toEqual([[subnets, ["geo-kong-cp"]]]);
    // The data planes connect to that address.
    for (const vm of dataPlanes()) expect([vm.name, kongConfValue(confOf(vm), "cluster_control_plane")]).toEqual([vm.name, `${rule.ipAddress}:8005`]);
  });

  it("include the migrator, so its writes reach the data planes", () => {
    const migrator = kongVms().find((vm) => vm.role === "migrator")!;
    expect(kongConfValue(confOf(migrator), "role")).toBe("control_plane");
    expect(migrator.files[kongClusterKeyPath]).toBeDefined();
  });
});

describe("hybrid's data planes", () => {
  it("run in every region beside the services, without a database, a password or a grant on it", () => {
    const planes = dataPlanes();
    expect(planes.map((vm) => vm.region).sort()).toEqual(["us-central1", "us-east4", "us-west2"]);
    for (const vm of planes) {
      const conf = confOf(vm);
      expect([vm.name, kongConfValue(conf, "database"), conf.match(/^pg_\w+/gm), kongConfValue(conf, "declarative_config")]).toEqual([vm.name, "off", null, undefined]);
      expect([vm.name, Object.keys(vm.files).filter((f) => f.startsWith("/etc/geo-api-layer/")).length]).toEqual([vm.name, 2]);
      expect(vm.files[fallbackConfigPath]).toContain("_format_version");
    }
    const passwordSecret = ofType(stack, "gcp:secretmanager/secret:Secret").map(inputs).find((s) => s.secretId === "geo-kong-db-password")!;
    const grants = ofType(stack, "gcp:secretmanager/secretIamMember:SecretIamMember").map(inputs).filter((g) => String(g.secretId).endsWith(passwordSecret.secretId));
    expect(grants.map((g) => String(g.member).split(":")[1].split("@")[0]).sort()).toEqual(["geo-kong-migrator", "geo-us-c1-cp"]);
  });
});

describe("hybrid's cluster certificate", () => {
  it("is made as `kong hybrid gen_cert` makes it: EC P-384, CN=kong_clustering, 1095 days", () => {
    const key = inputs(one(stack, "tls:index/privateKey:PrivateKey"));
    expect([key.algorithm, key.ecdsaCurve]).toEqual(["ECDSA", "P384"]);
    const cert = inputs(one(stack, "tls:index/selfSignedCert:SelfSignedCert"));
    expect([cert.subject.commonName, cert.validityPeriodHours]).toEqual(["kong_clustering", 1095 * 24]);
    expect(cert.allowedUses).toEqual(expect.arrayContaining(["server_auth", "client_auth"]));
    // Every node of both roles holds the one certificate (shared mode compares digests).
    const certs = new Set(kongVms().filter((vm) => vm.files[kongClusterCertPath]).map((vm) => vm.files[kongClusterCertPath]));
    expect(certs.size).toBe(1);
    expect(new X509Certificate([...certs][0]).subject).toBe("CN=kong_clustering");
    expect(kongVms().filter((vm) => vm.files[kongClusterCertPath]).length).toBe(5);
  });

  it("keeps its key out of every VM's metadata and in Secret Manager only, as a secret", () => {
    const keyBody = mockKongClusterKey.split("\n")[1];
    const base64Key = Buffer.from(mockKongClusterKey).toString("base64");
    for (const r of stack.resources.filter((r) => r.type !== "tls:index/privateKey:PrivateKey" && r.type !== "tls:index/selfSignedCert:SelfSignedCert")) {
      const text = JSON.stringify(r.inputs);
      expect([r.name, text.includes(keyBody) || text.includes(base64Key)]).toEqual([r.name, false]);
    }
    const secret = ofType(stack, "gcp:secretmanager/secret:Secret").find((s) => inputs(s).secretId === "geo-kong-cluster-key")!;
    expect(secret).toBeDefined();
    // Recorded as "[secret]" only where the program marked it secret (plan/record.ts).
    const version = ofType(stack, "gcp:secretmanager/secretVersion:SecretVersion").find((v) => v.name === "geo-cluster-key")!;
    expect(inputs(version).secretData).toBe("[secret]");
    // The key reaches the VM by its own account: every Kong VM has a grant on the key's secret.
    const readers = ofType(stack, "gcp:secretmanager/secretIamMember:SecretIamMember").map(inputs).filter((g) => String(g.secretId).endsWith("geo-kong-cluster-key"));
    expect(readers.length).toBe(5);
    // Each reads it at boot into the root-only file (the harness's rendered files stand in the mock's key there).
    for (const vm of kongVms()) expect([vm.name, vm.files[kongClusterKeyPath] !== undefined]).toEqual([vm.name, true]);
  });
});
