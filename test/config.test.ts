/** Config validation and resolution: pure functions, no Pulumi. */
import { formatCidr, nthSubnet, overlaps, parseCidr } from "../config/cidr";
import { compactRegionName, zonesOf } from "../config/regions";
import { validateStackConfig } from "../config/validate";
import { topologyRules } from "../components/topologies/catalog";
import { rawStackConfig } from "../config/load";
import { readStackFile } from "../plan/stack-file";
import { projectDir } from "./support/stack";

const usMulti = rawStackConfig(readStackFile(projectDir, "us-multi").config);

function errorsOf(overrides: Record<string, unknown>, project: string | undefined): string[] {
  const result = validateStackConfig({ ...usMulti, ...overrides }, project, topologyRules);
  return result.ok ? [] : result.errors;
}

describe("the us-multi config", () => {
  const result = validateStackConfig(usMulti, "my-project", topologyRules);
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
    const alone = validateStackConfig({ ...usMulti, regions: { "us-east4": {} }, database: { regions: ["us-east4"] } }, "example-project", topologyRules);
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
      replicas: [{ region: "us-east4", zone: "us-east4-a", secondaryZone: "us-east4-b" }],
    });
    expect(config.kong.version).toMatch(/^3\.9\.\d+$/);
    expect(config.prefix).toBe("geo");
  });
});

describe("invalid config (the full corpus is test/fixtures/bad-configs.yaml)", () => {
  it("rejects a service port Kong listens on, and a route path used twice", () => {
    const [messaging, attachments] = usMulti.services as Record<string, unknown>[];
    const errors = errorsOf({
      services: [
        { ...messaging, port: 8000 },
        { ...attachments, routes: [{ name: "again", paths: ["/login/"] }, { name: "also", paths: ["/login"] }] },
      ],
    }, "example-project");
    expect(errors).toContain('geo-api-layer:services[0].port: port 8000 is already used by geo-api-layer:kong.proxyPort');
    expect(errors).toContain('geo-api-layer:services[1].routes[1].paths[0]: route path "/login" is already used by geo-api-layer:services[1].routes[0].paths[0]');
  });

  it("rejects a service name that makes a standalone tier's names too long for GCP", () => {
    const [messaging, attachments] = usMulti.services as Record<string, unknown>[];
    const errors = errorsOf({ topology: "standalone", regions: { "northamerica-northeast1": {} }, database: { regions: ["northamerica-northeast1"] }, services: [messaging, { ...attachments, name: "attachments-and-reminders-svc" }] }, "example-project");
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

describe("the stack itself", () => {
  it("rejects a stack name too long for the `stack` label every resource carries", () => {
    const long = "a".repeat(64);
    const result = validateStackConfig(usMulti, "example-project", topologyRules, { stack: long });
    expect(result.ok ? [] : result.errors).toContain(`stack name "${long}": 64 characters; it is every resource's \`stack\` label, and label values allow 63`);
    expect(validateStackConfig(usMulti, "example-project", topologyRules, { stack: "a".repeat(63) }).ok).toBe(true);
  });

  it("reads the providers' own namespaces and rejects only unknown ones", () => {
    const result = validateStackConfig(usMulti, "example-project", topologyRules, { foreignKeys: ["gcp:region", "pulumi:tags", "random:x", "geo-api-laye:prefix"] });
    expect(result.ok ? [] : result.errors).toEqual([
      'geo-api-laye:prefix: unknown namespace "geo-api-laye"; nothing reads this key; did you mean geo-api-layer:prefix? (namespaces read: geo-api-layer, gcp, random, command, pulumi)',
    ]);
  });
});


describe("what a topology accepts", () => {
  it("comes from the topologies' own rules: a setting names every topology that accepts it, and the topology's checks run", () => {
    const errors = (rules: typeof topologyRules, overrides: Record<string, unknown>) => {
      const result = validateStackConfig({ ...usMulti, ...overrides }, "example-project", rules);
      return result.ok ? [] : result.errors;
    };
    const dblessTakesEntry = { ...topologyRules, dbless: { ...topologyRules.dbless, options: ["entryService" as const] } };
    expect(errors(dblessTakesEntry, { entryService: "messaging" })).toContain(
      "geo-api-layer:entryService: applies to the standalone and dbless topologies only; this stack's topology is shared-db",
    );
    const refusing = { ...topologyRules, "shared-db": { ...topologyRules["shared-db"], check: (_p: unknown, _r: unknown, err: (path: PropertyKey[], m: string) => void) => err(["prefix"], "refused") } };
    expect(errors(refusing, {})).toEqual(["geo-api-layer:prefix: refused"]);
    // A topology's tiers set what each subnet must hold: three more groups per region do not fit a /28.
    const crowded = { ...topologyRules, "shared-db": { ...topologyRules["shared-db"], tiers: () => [{ path: ["prefix"] }, { tier: "a", path: ["prefix"] }, { tier: "b", path: ["prefix"] }, { tier: "c", path: ["prefix"] }] } };
    const regions = { "us-east4": { subnetCidr: "10.0.0.0/28" } };
    expect(errors(topologyRules, { regions, database: { regions: ["us-east4"] } })).toEqual([]);
    expect(errors(crowded, { regions, database: { regions: ["us-east4"] } }).join("\n")).toMatch(/regions\.us-east4\.subnetCidr: the subnet 10\.0\.0\.0\/28 has 12 usable addresses/);
  });
});
