/**
 * What Google Cloud would answer for each resource the program creates: the inputs back, plus
 * the computed outputs other resources consume (addresses, self links, emails). Deterministic,
 * so two plans of the same program are identical.
 */
import { createHash } from "crypto";
import { existsSync, readFileSync } from "fs";
import { join } from "path";
import type { MockResourceArgs } from "@pulumi/pulumi/runtime";
import { buildObjects } from "../config/check-builds";

const computeApi = "https://www.googleapis.com/compute/v1";

function digest(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** The mock password: tests search the recorded plan for it to prove it never appears. */
export function mockPassword(resourceName: string): string {
  return `mock-password-${digest(resourceName, 12)}`;
}

/** A private address under `base` (two octets), different per resource. */
function privateAddress(base: string, name: string): string {
  return `${base}.${parseInt(digest(name, 2), 16)}.${(parseInt(digest(name, 4), 16) % 250) + 2}`;
}

/** Pulumi's auto-name of a resource, with a stable suffix. */
export function autoName(logicalName: string): string {
  return `${logicalName}-${digest(logicalName, 7)}`;
}

/**
 * The server CA every mock Cloud SQL instance reports (a real certificate, so the VM harness's
 * PostgreSQL can serve one it signed: its key is test/vm/mock-cloud-sql-ca.key).
 */
export const mockCloudSqlCa = readFileSync(join(__dirname, "mock-cloud-sql-ca.pem"), "utf8");

/**
 * Kong's cluster certificate and key as every mock tls resource reports them: a real pair made as
 * `kong hybrid gen_cert` makes one (EC P-384, CN=kong_clustering, 1095 days), so the VM harness's
 * control and data planes handshake with what the program hands its VMs. A test key, nowhere else used.
 */
export const mockKongClusterCertificate = readFileSync(join(__dirname, "mock-kong-cluster.crt"), "utf8");
export const mockKongClusterKey = readFileSync(join(__dirname, "mock-kong-cluster.key"), "utf8");

/** The private address the mock gives an auto-named Cloud SQL instance (the VM harness serves PostgreSQL there). */
export function mockDatabaseAddress(logicalName: string): string {
  return privateAddress("10.64", autoName(logicalName));
}

/**
 * Where the VM harness's Cloud Storage stand-in keeps what its builder stored: a manifest there
 * (`<dir>/builds/<key>.json`) is the one the wait reports, so fleet scripts name the real artifact.
 */
export const storedBuildsVariable = "GEO_PLAN_STORED_BUILDS";

/** The builder's manifests as the wait prints them: the stand-in's where stored, else made up from the key. */
function mockManifests(keys: string[]): Record<string, unknown> {
  const dir = process.env[storedBuildsVariable];
  return Object.fromEntries(
    keys.map((key) => {
      const { artifact, manifest } = buildObjects(key);
      const stored = dir ? join(dir, manifest) : undefined;
      if (stored && existsSync(stored)) return [key, JSON.parse(readFileSync(stored, "utf8"))];
      return [key, { object: artifact, generation: String(parseInt(digest(key, 12), 16)), sha256: digest(`artifact ${key}`, 64), bytes: 0 }];
    }),
  );
}

/** Google's collection names that are not the type's name, lower camel case, plus "s". */
const irregularCollections: Record<string, string> = { URLMap: "urlMaps", SSLPolicy: "sslPolicies" };

export function mockResourceState(args: MockResourceArgs, project: string): { id: string; state: Record<string, unknown> } {
  const inputs = args.inputs as Record<string, unknown>;
  // Pulumi auto-names with the logical name and a random suffix; here the suffix is stable. A
  // `namePrefix` gets GCP's generated suffix, new with every replacement: here, of the inputs.
  const namePrefix = inputs.namePrefix as string | undefined;
  const name = (inputs.name as string | undefined) ?? (namePrefix ? `${namePrefix}${digest(JSON.stringify(inputs), 12)}` : autoName(args.name));
  const location = (inputs.region ?? inputs.zone) as string | undefined;
  const selfLink = (collection: string) =>
    `${computeApi}/projects/${project}/${location ? `${inputs.region ? "regions" : "zones"}/${location}/` : "global/"}${collection}/${name}`;
  const state: Record<string, unknown> = { ...inputs, name };
  switch (args.type) {
    case "random:index/randomPassword:RandomPassword":
      state.result = mockPassword(args.name);
      break;
    case "random:index/randomId:RandomId":
      state.hex = digest(args.name, 2 * Number(inputs.byteLength));
      break;
    case "gcp:serviceaccount/account:Account":
      state.email = `${inputs.accountId}@${project}.iam.gserviceaccount.com`;
      break;
    case "gcp:projects/iAMCustomRole:IAMCustomRole":
      state.name = `projects/${inputs.project}/roles/${inputs.roleId}`;
      break;
    case "gcp:secretmanager/secret:Secret":
      return { id: `projects/${project}/secrets/${inputs.secretId}`, state };
    case "gcp:sql/databaseInstance:DatabaseInstance":
      state.privateIpAddress = privateAddress("10.64", name);
      state.connectionName = `${project}:${inputs.region}:${name}`;
      state.serverCaCerts = [{ cert: mockCloudSqlCa, commonName: "C=US,O=Google\\, Inc,CN=Google Cloud SQL Server CA", sha1Fingerprint: digest(mockCloudSqlCa, 40) }];
      break;
    case "gcp:compute/address:Address":
      state.address = inputs.address ?? privateAddress("10.0", name);
      break;
    case "gcp:compute/globalAddress:GlobalAddress":
      state.address = inputs.address ?? "203.0.113.10";
      break;
    case "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate":
      state.selfLink = selfLink("instanceTemplates");
      break;
    case "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager":
      state.instanceGroup = selfLink("instanceGroups");
      break;
    case "gcp:certificatemanager/dnsAuthorization:DnsAuthorization":
      state.dnsResourceRecords = [
        { name: `_acme-challenge.${inputs.domain}.`, type: "CNAME", data: `${digest(String(inputs.domain), 12)}.1.authorize.certificatemanager.goog.` },
      ];
      break;
    case "gcp:certificatemanager/certificate:Certificate":
      // Until its DNS authorization record exists, and for minutes after.
      state.managed = { ...(inputs.managed as object), state: "PROVISIONING" };
      break;
    case "tls:index/privateKey:PrivateKey":
      state.privateKeyPem = mockKongClusterKey;
      break;
    case "tls:index/selfSignedCert:SelfSignedCert":
      state.certPem = mockKongClusterCertificate;
      break;
    case "command:local:Command": {
      const builds = (inputs.environment as Record<string, string> | undefined)?.BUILDS;
      state.stdout = builds ? JSON.stringify(mockManifests(builds.split(" "))) : "";
      state.stderr = "";
      break;
    }
    // Cloud Monitoring names these itself, with a number of its own.
    case "gcp:monitoring/alertPolicy:AlertPolicy":
      state.name = `projects/${project}/alertPolicies/${parseInt(digest(args.name, 12), 16)}`;
      break;
    case "gcp:monitoring/notificationChannel:NotificationChannel":
      state.name = `projects/${project}/notificationChannels/${parseInt(digest(args.name, 12), 16)}`;
      break;
    case "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig":
      state.uptimeCheckId = autoName(args.name);
      state.name = `projects/${project}/uptimeCheckConfigs/${state.uptimeCheckId}`;
      break;
    case "gcp:compute/instance:Instance":
      state.instanceId = String(parseInt(digest(JSON.stringify(inputs), 12), 16));
      break;
  }
  const kind = args.type.split(":")[2];
  const collection = irregularCollections[kind] ?? `${kind[0].toLowerCase()}${kind.slice(1)}s`;
  if (args.type.startsWith("gcp:compute/")) {
    state.selfLink ??= selfLink(collection);
    // Google renews a resource's fingerprint with every change to it.
    state.fingerprint = digest(JSON.stringify(inputs), 12);
  }
  const id = args.type.startsWith("gcp:compute/")
    ? (state.selfLink as string)
    : args.type.startsWith("gcp:certificatemanager/")
      ? `projects/${project}/locations/global/${collection}/${name}`
      : `${name}-id`;
  return { id, state };
}
