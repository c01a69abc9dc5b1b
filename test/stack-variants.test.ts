/** The same program with one setting changed from us-multi. */
import type { Recording } from "../plan/record";
import { inputs, ofType, one, recordStack } from "./support/stack";

describe("with domains", () => {
  it("serves HTTPS with a managed certificate and redirects HTTP to it", async () => {
    const stack = await recordStack("us-multi", { loadBalancer: { domains: ["api.example.com"] } });
    expect(stack.errors).toEqual([]);
    const certificate = inputs(one(stack, "gcp:compute/managedSslCertificate:ManagedSslCertificate"));
    expect(certificate.name).toBeUndefined();
    expect(certificate.managed.domains).toEqual(["api.example.com"]);
    const maps = ofType(stack, "gcp:compute/uRLMap:URLMap").map(inputs);
    const redirect = maps.find((m) => m.defaultUrlRedirect)!;
    expect(redirect.defaultUrlRedirect).toMatchObject({ httpsRedirect: true });
    const httpProxy = inputs(one(stack, "gcp:compute/targetHttpProxy:TargetHttpProxy"));
    expect(httpProxy.urlMap).toContain(redirect.name);
    const httpsProxy = inputs(one(stack, "gcp:compute/targetHttpsProxy:TargetHttpsProxy"));
    expect(httpsProxy.urlMap).not.toContain(redirect.name);
    const rules = ofType(stack, "gcp:compute/globalForwardingRule:GlobalForwardingRule").map(inputs);
    expect(rules.map((r) => r.portRange).sort()).toEqual(["443", "80"]);
    expect(inputs(one(stack, "command:local:Command")).environment.BASE_URL).toBe("https://api.example.com");
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
  it("creates one database instance, reads from the primary, and no command", async () => {
    const stack = await recordStack("us-multi", { database: { region: "us-central1" }, deployCheck: { enabled: false } });
    expect(stack.errors).toEqual([]);
    expect(ofType(stack, "gcp:sql/databaseInstance:DatabaseInstance")).toHaveLength(1);
    expect(inputs(ofType(stack, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")[0]).metadataStartupScript).not.toContain("pg_ro_host");
    expect(ofType(stack, "command:local:Command")).toHaveLength(0);
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
