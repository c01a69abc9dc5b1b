/** Config validation and resolution: pure functions, no Pulumi. */
import { formatCidr, nthSubnet, overlaps, parseCidr } from "../config/cidr";
import { compactRegionName, zonesOf } from "../config/regions";
import { validateStackConfig } from "../config/validate";
import { rawStackConfig } from "../config/load";
import { readStackFile } from "../plan/stack-file";
import { projectDir } from "./support/stack";

const usMulti = rawStackConfig(readStackFile(projectDir, "us-multi").config);

function errorsOf(overrides: Record<string, unknown>, project: string | undefined): string[] {
  const result = validateStackConfig({ ...usMulti, ...overrides }, project);
  return result.ok ? [] : result.errors;
}

describe("the us-multi config", () => {
  const result = validateStackConfig(usMulti, "my-project");
  if (!result.ok) throw new Error(result.errors.join("\n"));
  const { config } = result;

  it("resolves every region to all its zones with one VM per zone", () => {
    expect(config.regions.map((r) => [r.name, r.zones.length, r.size])).toEqual([
      ["us-west2", 3, 3],
      ["us-central1", 4, 4],
      ["us-east4", 3, 3],
    ]);
  });

  it("cuts each region's subnet from its fixed slot, independent of the other regions", () => {
    expect(config.regions.map((r) => r.subnetCidr)).toEqual(["10.0.96.0/20", "10.0.0.0/20", "10.0.32.0/20"]);
    const alone = validateStackConfig({ ...usMulti, regions: { "us-east4": {} }, database: { region: "us-east4" } }, "p");
    expect(alone.ok && alone.config.regions[0].subnetCidr).toBe("10.0.32.0/20");
  });

  it("defaults to a secure, highly available database in ENTERPRISE edition", () => {
    expect(config.database).toMatchObject({
      region: "us-central1",
      zone: "us-central1-a",
      secondaryZone: "us-central1-b",
      edition: "ENTERPRISE",
      tier: "db-custom-2-7680",
      highAvailability: true,
      deletionProtection: true,
      replica: { region: "us-east4", zone: "us-east4-a" },
    });
    expect(config.kong.version).toMatch(/^3\.9\.\d+$/);
    expect(config.prefix).toBe("geo");
  });
});

describe("invalid config", () => {
  it.each([
    [{ regions: { "mars-north1": {} } }, 'geo-api-layer:regions.mars-north1: unknown region "mars-north1"'],
    [{ regions: { "us-east4": { zones: ["us-west2-a"] } }, database: { region: "us-east4" } }, '"us-west2-a" is not a zone of us-east4'],
    [{ regions: { "us-east4": { zones: ["us-east4-a", "us-east4-a"] } }, database: { region: "us-east4" } }, '"us-east4-a" is listed twice'],
    [{ regions: { "us-east4": { size: 3, autoscaling: { minReplicas: 3, maxReplicas: 6 } } }, database: { region: "us-east4" } }, "only one of [size] and [autoscaling]"],
    [{ regions: { "us-east4": { autoscaling: { minReplicas: 5, maxReplicas: 4 } } }, database: { region: "us-east4" } }, "minReplicas (5) should be <= maxReplicas (4)"],
    [{ regions: { "us-east4": { autoscaling: { minReplicas: 1, maxReplicas: 4 } } }, database: { region: "us-east4" } }, "minReplicas (1) should be >= the zone count (3)"],
    [{ regions: { "us-east4": { subnetCidr: "10.64.0.0/20" } }, database: { region: "us-east4" } }, '"10.64.0.0/20" overlaps geo-api-layer:network.privateServicesRange'],
    [{ regions: { "us-east4": { subnetCidr: "10.1.0.1/20" } }, database: { region: "us-east4" } }, "host bits must be zero"],
    [{ regions: { "us-east4": { subnetCidr: "169.254.0.0/20" } }, database: { region: "us-east4" } }, "overlaps the reserved range 169.254.0.0/16"],
    [{ database: { tier: "db-custom-2-7680", edition: "ENTERPRISE_PLUS" } }, 'geo-api-layer:database.tier: "db-custom-2-7680" does not fit edition ENTERPRISE_PLUS'],
    [{ database: { region: "europe-west1" } }, 'geo-api-layer:database.region: "europe-west1" is not one of the stack\'s regions'],
    [{ database: { region: "us-central1", replicaRegion: "us-central1" } }, "a cross-region replica needs another"],
    [{ kong: { version: "3.10.0" } }, 'geo-api-layer:kong.version: an open-source Kong 3.9.x release such as 3.9.1 (got "3.10.0")'],
    [{ kong: { statusPort: 8001 } }, 'geo-api-layer:kong.statusPort: port 8001 is already used by Kong\'s Admin API'],
    [{ prefix: "Geo_Layer" }, "geo-api-layer:prefix: 1 to 10 lowercase letters and digits"],
    [{ colour: "blue" }, 'Unrecognized key: "colour"'],
    [{ services: [] }, "geo-api-layer:services"],
    [{ topology: "sidecar" }, "geo-api-layer:database: applies to the shared-db and standalone topologies only; this stack's topology is sidecar"],
    [{ topology: "dbless", database: undefined, entryService: "messaging" }, "geo-api-layer:entryService: applies to the standalone topology only"],
    [{ regions: { "us-east4": { routePrefix: "/api/east" } }, database: { region: "us-east4" } }, "geo-api-layer:regions.us-east4.routePrefix: applies to the standalone topology only"],
    [{ topology: "standalone", regions: { "us-east1": {}, "us-east4": {} }, database: { region: "us-east1" } }, 'geo-api-layer:regions.us-east4.routePrefix: "/api/us/east" is also us-east1\'s route prefix'],
    [{ topology: "standalone", entryService: "chat" }, 'geo-api-layer:entryService: "chat" is not a service; allowed: messaging, attachments'],
    [{ topology: "oracle" }, "geo-api-layer:topology: Invalid option"],
  ])("rejects %j", (overrides, message) => {
    expect(errorsOf(overrides as Record<string, unknown>, "p").join("\n")).toContain(message);
  });

  it("rejects a service port Kong listens on, and a route path used twice", () => {
    const [messaging, attachments] = usMulti.services as Record<string, unknown>[];
    const errors = errorsOf({
      services: [
        { ...messaging, port: 8000 },
        { ...attachments, routes: [{ name: "again", paths: ["/login/"] }, { name: "also", paths: ["/login"] }] },
      ],
    }, "p");
    expect(errors).toContain('geo-api-layer:services[0].port: port 8000 is already used by geo-api-layer:kong.proxyPort');
    expect(errors).toContain('geo-api-layer:services[1].routes[1].paths[0]: route path "/login" is already used by geo-api-layer:services[1].routes[0].paths[0]');
  });

  it("rejects a service name that makes a standalone tier's names too long for GCP", () => {
    const [messaging, attachments] = usMulti.services as Record<string, unknown>[];
    const errors = errorsOf({ topology: "standalone", regions: { "northamerica-northeast1": {} }, database: { region: "northamerica-northeast1" }, services: [messaging, { ...attachments, name: "attachments-and-reminders-svc" }] }, "p");
    expect(errors).toContain(
      'geo-api-layer:services[1].name: makes the service account id "geo-na-ne1-attachments-and-reminders-svc"; ids are 6 to 30 lowercase letters, digits and hyphens',
    );
  });

  it("reports every error at once, the missing project among them", () => {
    const errors = errorsOf({ regions: { "us-west9": {}, "us-east4": { zones: ["us-east4-q"] } } }, undefined);
    expect(errors[0]).toMatch(/^gcp:project: not set/);
    expect(errors.length).toBeGreaterThanOrEqual(3);
  });
});

describe("CIDR planning", () => {
  it("parses, formats and detects overlap", () => {
    const a = parseCidr("10.0.0.0/12")!;
    expect(formatCidr(a)).toBe("10.0.0.0/12");
    expect(overlaps(a, parseCidr("10.15.255.0/24")!)).toBe(true);
    expect(overlaps(a, parseCidr("10.16.0.0/24")!)).toBe(false);
    expect(parseCidr("10.0.0.1/24")).toBeUndefined();
    expect(parseCidr("300.0.0.0/8")).toBeUndefined();
  });

  it("cuts the n-th block and refuses past the pool's end", () => {
    const pool = parseCidr("10.0.0.0/12")!;
    expect(formatCidr(nthSubnet(pool, 20, 17)!)).toBe("10.1.16.0/20");
    expect(nthSubnet(pool, 20, 256)).toBeUndefined();
    expect(nthSubnet(pool, 8, 0)).toBeUndefined();
  });
});

describe("regions", () => {
  it("knows each region's zones and a short name that fits a service account id", () => {
    expect(zonesOf("us-central1")).toEqual(["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"]);
    expect(zonesOf("nowhere1")).toEqual([]);
    expect(compactRegionName("northamerica-northeast1")).toBe("na-ne1");
    expect(`geo-gw-${compactRegionName("australia-southeast2")}`.length).toBeLessThanOrEqual(30);
  });
});
