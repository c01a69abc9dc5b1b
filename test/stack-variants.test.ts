/** The same program with one setting changed from us-multi. */
import type { Recording } from "../plan/record";
import { inputs, ofType, one, recordStack } from "./support/stack";

/** The deploy check's probe (the other command waits for the builder). */
const routeCheck = (recording: Recording) => ofType(recording, "command:local:Command").find((c) => c.name.endsWith("-check-routes"))!;

describe("with domains", () => {
  const domains = (list: string[]) => recordStack("us-multi", { loadBalancer: { domains: list } });
  const byUrn = (recording: Recording) => new Map(recording.resources.map((r) => [r.urn, r]));

  it("serves HTTPS with a DNS-authorized Certificate Manager certificate per domain, TLS 1.2 at least", async () => {
    const stack = await domains(["api.example.com", "chat.example.com"]);
    expect(stack.errors).toEqual([]);
    expect(ofType(stack, "gcp:compute/managedSslCertificate:ManagedSslCertificate")).toEqual([]);
    const resources = byUrn(stack);
    const entries = ofType(stack, "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry").map(inputs);
    expect(entries.map((e) => e.hostname).sort()).toEqual(["api.example.com", "chat.example.com"]);
    for (const entry of entries) {
      const certificate = ofType(stack, "gcp:certificatemanager/certificate:Certificate").find((c) => entry.certificates[0].endsWith(`/certificates/${inputs(c).name}`))!;
      expect(inputs(certificate).managed.domains).toEqual([entry.hostname]);
      const authorization = resources.get(certificate.dependencies.find((d) => d.includes("DnsAuthorization"))!)!;
      expect(inputs(authorization).domain).toBe(entry.hostname);
    }
    const map = inputs(one(stack, "gcp:certificatemanager/certificateMap:CertificateMap"));
    const proxy = inputs(one(stack, "gcp:compute/targetHttpsProxy:TargetHttpsProxy"));
    expect(proxy.certificateMap).toMatch(new RegExp(`^//certificatemanager\\.googleapis\\.com/projects/[^/]+/locations/global/certificateMaps/${map.name}$`));
    // Without an SSL policy Google's default accepts TLS 1.0 (COMPATIBLE).
    const policy = inputs(one(stack, "gcp:compute/sSLPolicy:SSLPolicy"));
    expect(proxy.sslPolicy).toMatch(new RegExp(`/sslPolicies/${policy.name}$`));
    expect(policy).toMatchObject({ profile: "MODERN", minTlsVersion: "TLS_1_2" });
    const rules = ofType(stack, "gcp:compute/globalForwardingRule:GlobalForwardingRule").map(inputs);
    expect(rules.map((r) => r.portRange).sort()).toEqual(["443", "80"]);
  });

  it("names each domain's certificate resources as Certificate Manager allows, uniquely, however long the domain", async () => {
    const long = `${"a".repeat(63)}.${"b".repeat(63)}.example.com`;
    const stack = await domains(["api.example.com", "api-example.com", long]);
    expect(stack.errors).toEqual([]);
    for (const type of ["DnsAuthorization", "Certificate", "CertificateMapEntry"]) {
      const names = ofType(stack, `gcp:certificatemanager/${type[0].toLowerCase()}${type.slice(1)}:${type}`).map((r) => inputs(r).name);
      expect(names).toHaveLength(3);
      // @pulumi/gcp 9.37 certificatemanager typings: `[a-zA-Z][a-zA-Z0-9_-]*`, 1 to 64 characters.
      for (const name of names) expect([type, name]).toEqual([type, expect.stringMatching(/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/)]);
      expect(new Set(names).size).toBe(3);
    }
  });

  it("serves plain HTTP only to the deploy check: every other request, a user's login included, goes to HTTPS", async () => {
    const stack = await domains(["api.example.com", "chat.example.com"]);
    const http = inputs(one(stack, "gcp:compute/targetHttpProxy:TargetHttpProxy"));
    const httpMap = ofType(stack, "gcp:compute/uRLMap:URLMap").map(inputs).find((m) => http.urlMap.endsWith(`/${m.name}`))!;
    const check = inputs(routeCheck(stack)).environment.CHECK_HEADER as string;
    const [headerName, headerValue] = check.split(": ");
    expect(headerValue).toMatch(/^[0-9a-f]{32}$/);
    // Where the URL map sends a request (Google's URL map semantics: host rule, then route rules by priority, else the matcher's default).
    const target = (host: string, headers: Record<string, string>) => {
      const rule = httpMap.hostRules.find((r: { hosts: string[] }) => r.hosts.includes(host)) ?? httpMap.hostRules.find((r: { hosts: string[] }) => r.hosts.includes("*"));
      const matcher = rule ? httpMap.pathMatchers.find((m: { name: string }) => m.name === rule.pathMatcher) : httpMap;
      const route = (matcher.routeRules ?? []).find((r: { matchRules: { headerMatches?: { headerName: string; exactMatch: string }[] }[] }) =>
        r.matchRules.some((m) => (m.headerMatches ?? []).every((h) => headers[h.headerName] === h.exactMatch)),
      );
      return route ? { service: route.service } : { redirect: matcher.defaultUrlRedirect ?? httpMap.defaultUrlRedirect };
    };
    expect(httpMap.defaultService).toBeUndefined();
    for (const host of ["api.example.com", "chat.example.com", "203.0.113.10", "other.example.org"]) {
      expect([host, target(host, {})]).toEqual([host, { redirect: expect.objectContaining({ httpsRedirect: true }) }]);
    }
    expect(target("203.0.113.10", {}).redirect).toMatchObject({ hostRedirect: "api.example.com" });
    expect(target("203.0.113.10", { [headerName]: headerValue })).toEqual({ service: expect.stringMatching(/\/global\/backendServices\/geo-lb$/) });
    expect(target("203.0.113.10", { [headerName]: "guess" })).toHaveProperty("redirect");
  });

  it("checks the deployment over HTTP on the address, needing neither DNS nor a certificate, and reports each certificate's state", async () => {
    const stack = await domains(["api.example.com"]);
    const address = inputs(ofType(stack, "gcp:compute/globalForwardingRule:GlobalForwardingRule")[0]).ipAddress;
    expect(inputs(routeCheck(stack)).environment.BASE_URL).toBe(`http://${address}`);
    const layer = one(stack, "geo-api-layer:stack:GeoApiLayer");
    expect(layer.outputs?.certificates).toEqual({
      "api.example.com": { state: "PROVISIONING", dnsAuthorization: { name: "_acme-challenge.api.example.com.", type: "CNAME", data: expect.stringMatching(/\.authorize\.certificatemanager\.goog\.$/) } },
    });
  });

  it("keeps a kept domain's certificate, authorization and map entry untouched when another domain is added or removed", async () => {
    const [single, both] = await Promise.all([domains(["api.example.com"]), domains(["api.example.com", "chat.example.com"])]);
    const kept = (recording: Recording) =>
      recording.resources.filter(
        (r) => (r.type.startsWith("gcp:certificatemanager/") && r.name.endsWith("api.example.com")) || /:(CertificateMap|TargetHttpsProxy)$/.test(r.type),
      );
    expect(kept(single).map((r) => r.type.split(":")[2]).sort()).toEqual(["Certificate", "CertificateMap", "CertificateMapEntry", "DnsAuthorization", "TargetHttpsProxy"]);
    expect(kept(both)).toEqual(kept(single));
  });
});

describe("the deploy check", () => {
  const trigger = async (overrides: Record<string, unknown>) => inputs(routeCheck(await recordStack("us-multi", overrides))).triggers;

  it("runs again when what the load balancer serves changes, not only when a fleet rolls out", async () => {
    const base = await trigger({});
    expect(await trigger({})).toEqual(base);
    for (const change of [{ loadBalancer: { timeoutSec: 60 } }, { loadBalancer: { sessionAffinity: "NONE" } }, { loadBalancer: { domains: ["api.example.com"] } }]) {
      expect([change, await trigger(change)]).not.toEqual([change, base]);
    }
  });
});

describe("with an autoscaler in one region", () => {
  it("leaves that group's size to the autoscaler and keeps the others fixed", async () => {
    const stack = await recordStack("us-multi", {
      regions: { "us-west2": { autoscaling: { minReplicas: 3, maxReplicas: 9 } }, "us-central1": {}, "us-east4": { size: 6 } },
    });
    expect(stack.errors).toEqual([]);
    const autoscaler = inputs(one(stack, "gcp:compute/regionAutoscaler:RegionAutoscaler"));
    expect(autoscaler.region).toBe("us-west2");
    expect(autoscaler.autoscalingPolicy).toMatchObject({ minReplicas: 3, maxReplicas: 9, cpuUtilization: { target: 0.6 } });
    const groups = Object.fromEntries(
      ofType(stack, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").map((g) => [inputs(g).region, inputs(g)]),
    );
    expect(groups["us-west2"].targetSize).toBeUndefined();
    expect(groups["us-central1"].targetSize).toBe(4);
    expect(groups["us-east4"].targetSize).toBe(6);
  });
});

describe("without a replica and without the deploy check", () => {
  it("creates one database instance, reads from the primary, and no route check", async () => {
    const stack = await recordStack("us-multi", { database: { regions: ["us-central1"] }, deployCheck: { enabled: false } });
    expect(stack.errors).toEqual([]);
    expect(ofType(stack, "gcp:sql/databaseInstance:DatabaseInstance")).toHaveLength(1);
    expect(inputs(ofType(stack, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")[0]).metadataStartupScript).not.toContain("pg_ro_host");
    expect(ofType(stack, "command:local:Command").map((c) => c.name)).toEqual(["geo-builds-stored"]);
  });
});

describe("logging", () => {
  const backend = (stack: Recording) => inputs(ofType(stack, "gcp:compute/backendService:BackendService")[0]);
  const subnets = (stack: Recording) => ofType(stack, "gcp:compute/subnetwork:Subnetwork").map(inputs);

  it("samples a tenth of requests and of flows, without flow metadata, by default", async () => {
    const stack = await recordStack("us-multi");
    expect(backend(stack).logConfig).toEqual({ enable: true, sampleRate: 0.1 });
    expect(subnets(stack)).toHaveLength(3);
    for (const subnet of subnets(stack)) expect(subnet.logConfig).toMatchObject({ flowSampling: 0.1, metadata: "EXCLUDE_ALL_METADATA" });
  });

  it("follows the config: every request, or no request and no flow logs", async () => {
    const all = await recordStack("us-multi", { loadBalancer: { logSampleRate: 1 }, network: { flowLogs: { sampling: 1, metadata: "INCLUDE_ALL_METADATA" } } });
    expect(backend(all).logConfig).toEqual({ enable: true, sampleRate: 1 });
    for (const subnet of subnets(all)) expect(subnet.logConfig).toMatchObject({ flowSampling: 1, metadata: "INCLUDE_ALL_METADATA" });
    const none = await recordStack("us-multi", { loadBalancer: { logSampleRate: 0 }, network: { flowLogs: { enabled: false } } });
    expect(backend(none).logConfig).toEqual({ enable: false, sampleRate: 0 });
    for (const subnet of subnets(none)) expect(subnet.logConfig).toBeUndefined();
  });
});

describe("with invalid config", () => {
  it("registers nothing and names every bad field", async () => {
    const stack = await recordStack("us-multi", {
      regions: { "us-west9": {}, "us-east4": { zones: ["us-east4-z"] } },
      "gcp:project": null,
    });
    expect(stack.resources).toEqual([]);
    expect(stack.errors).toHaveLength(1);
    const message = stack.errors[0];
    expect(message).toContain("gcp:project: not set");
    expect(message).toContain('geo-api-layer:regions.us-west9: unknown region "us-west9"');
    expect(message).toContain('geo-api-layer:regions.us-east4.zones[0]: "us-east4-z" is not a zone of us-east4');
    expect(message).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
