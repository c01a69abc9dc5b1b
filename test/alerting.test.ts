/**
 * The stack's alerting, wired by the real program under the mock runtime: what each policy
 * watches is the stack's own (its groups, its database instances, its uptime check), thresholds
 * come from config, PromQL parses, and every policy's text points at a README runbook.
 */
import { readFileSync } from "fs";
import { join } from "path";
import { runbooks } from "../components/alerting-rules";
import { autoName } from "../plan/mock-cloud";
import { renderAlerting } from "../plan/alerting";
import { checkPolicies, policyResource } from "../policy/rules";
import type { Recording } from "../plan/record";
import { inputs, ofType, one, projectDir, recordStack } from "./support/stack";

// Its CommonJS build (package.json "exports".require); its types are declared for import only.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require("@prometheus-io/lezer-promql") as typeof import("@prometheus-io/lezer-promql", { with: { "resolution-mode": "import" } });

const policyType = "gcp:monitoring/alertPolicy:AlertPolicy";
const project = "offline-plan-project";
const policies = (recording: Recording) => ofType(recording, policyType);
const policy = (recording: Recording, name: string) => policies(recording).find((p) => p.name === name)!;
const queries = (p: ReturnType<typeof policy>): string[] => inputs(p).conditions.map((c: { conditionPrometheusQueryLanguage?: { query: string } }) => c.conditionPrometheusQueryLanguage?.query).filter(Boolean);
const filters = (p: ReturnType<typeof policy>): string[] =>
  inputs(p).conditions.flatMap((c: { conditionThreshold?: { filter: string }; conditionAbsent?: { filter: string } }) => [c.conditionThreshold?.filter, c.conditionAbsent?.filter]).filter(Boolean);
const lastPart = (url: string) => url.split("/").pop()!;

/** PromQL's syntax errors as Prometheus's own parser (lezer-promql) finds them. */
function promqlErrors(query: string): string[] {
  const errors: string[] = [];
  parser.parse(query).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`at ${node.from}: ${JSON.stringify(query.slice(node.from, node.from + 20))}`);
    },
  });
  return errors;
}

describe.each(["us-multi", "us-standalone", "us-hybrid", "us-sidecar", "us-dbless"])("the alerting of %s", (stack) => {
  let recording: Recording;
  beforeAll(async () => {
    recording = await recordStack(stack);
  });

  it("watches every region's backend group of the load balancer, and every group's VMs, in that region's policy", () => {
    const backend = one(recording, "gcp:compute/backendService:BackendService");
    const groups = inputs(backend).backends.map((b: { group: string }) => lastPart(b.group));
    expect(groups).toHaveLength(3);
    for (const group of groups) {
      const region = inputs(ofType(recording, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").find((g) => inputs(g).name === group)!).region;
      const queried = queries(policy(recording, `geo-alerting-region-${region}`));
      expect(queried).toHaveLength(2);
      for (const q of queried) expect(q).toContain(`backend_name="${group}"`);
    }
    const managed = ofType(recording, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").map(inputs);
    expect(managed.length).toBeGreaterThanOrEqual(3);
    for (const group of managed) {
      const absent = filters(policy(recording, `geo-alerting-region-${group.region}`));
      expect(absent).toContain(`resource.type="gce_instance" AND metric.type="compute.googleapis.com/instance/cpu/utilization" AND metadata.system_labels."instance_group"="${group.name}"`);
    }
  });

  it("counts a region's group without a single request as zero, not as no answer", () => {
    // A group nobody reaches has no series at all: without the zero, the query returns nothing and never fires.
    for (const p of policies(recording).filter((p) => p.name.startsWith("geo-alerting-region-"))) {
      expect(queries(p)[0]).toMatch(/^\(sum\(rate\([^)]*backend_name="[^"]+"[^)]*\)\) or on\(\) vector\(0\)\) == 0\nand on\(\) sum\(rate\(/);
    }
  });

  it("writes PromQL that Prometheus's parser reads without an error", () => {
    const all = [
      ...policies(recording).flatMap(queries),
      ...JSON.parse(inputs(one(recording, "gcp:monitoring/dashboard:Dashboard")).dashboardJson).mosaicLayout.tiles.flatMap((t: { widget: { xyChart: { dataSets: { prometheusQuery?: string }[] } } }) =>
        t.widget.xyChart.dataSets.map((d) => d.prometheusQuery).filter(Boolean),
      ),
    ];
    expect(all.length).toBeGreaterThanOrEqual(9);
    expect(all.flatMap(promqlErrors)).toEqual([]);
  });

  it("gives every policy a text that says what to do and names a runbook the README has", () => {
    const readme = readFileSync(join(projectDir, "README.md"), "utf8");
    for (const p of policies(recording)) {
      const content: string = inputs(p).documentation.content;
      const [, title] = /README\.md, Runbooks: "([^"]+)"$/.exec(content) ?? [];
      expect(Object.values(runbooks)).toContain(title);
      expect(readme).toContain(`- **${title}**`);
    }
  });

  it("passes the policy pack's rule that the alerting covers the stack", () => {
    expect(checkPolicies(recording.resources.map(policyResource)).filter((v) => v.rule === "alerting-covers-the-stack")).toEqual([]);
  });
});

describe("the alerting of us-multi", () => {
  let recording: Recording;
  beforeAll(async () => {
    recording = await recordStack("us-multi");
  });

  it("watches the stack's own Cloud SQL primary and replica, by the instances' names", () => {
    const primary = autoName("geo-db-us-central1");
    expect(inputs(ofType(recording, "gcp:sql/databaseInstance:DatabaseInstance").find((i) => i.name === "geo-db-us-east4")!).masterInstanceName).toBe(primary);
    expect(filters(policy(recording, "geo-alerting-db-primary-down"))).toEqual([
      `resource.type="cloudsql_database" AND resource.labels.database_id="${project}:${primary}" AND metric.type="cloudsql.googleapis.com/database/up"`,
      `resource.type="cloudsql_database" AND resource.labels.database_id="${project}:${primary}" AND metric.type="cloudsql.googleapis.com/database/up"`,
    ]);
    const lag = inputs(policy(recording, "geo-alerting-db-replica-lag")).conditions;
    expect(lag.map((c: { conditionThreshold: { filter: string } }) => c.conditionThreshold.filter)).toEqual([
      `resource.type="cloudsql_database" AND resource.labels.database_id="${project}:${autoName("geo-db-us-east4")}" AND metric.type="cloudsql.googleapis.com/database/replication/replica_lag"`,
    ]);
    expect(lag[0].conditionThreshold).toMatchObject({ comparison: "COMPARISON_GT", thresholdValue: 60 });
    // database/up is 1 while the instance serves: down is below 1, or no point at all.
    const [down, silent] = inputs(policy(recording, "geo-alerting-db-primary-down")).conditions;
    expect(down.conditionThreshold).toMatchObject({ comparison: "COMPARISON_LT", thresholdValue: 1 });
    expect(silent.conditionAbsent.duration).toBe("300s");
  });

  it("after a failover watches the promoted instance as the primary, and no replica", async () => {
    const failedOver = await recordStack("us-multi", { database: { regions: ["us-east4"] } });
    expect(filters(policy(failedOver, "geo-alerting-db-primary-down"))[0]).toContain(`database_id="${project}:${autoName("geo-db-us-east4")}"`);
    expect(policy(failedOver, "geo-alerting-db-replica-lag")).toBeUndefined();
  });

  it("checks GET /login through Kong on the load balancer's address, from every checker region unless told", () => {
    const check = inputs(one(recording, "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"));
    expect(check.monitoredResource).toEqual({ type: "uptime_url", labels: { project_id: project, host: "203.0.113.10" } });
    expect(check.httpCheck).toMatchObject({ path: "/login", port: 80, useSsl: false, requestMethod: "GET", acceptedResponseStatusCodes: [{ statusClass: "STATUS_CLASS_2XX" }] });
    expect(check.selectedRegions).toBeUndefined();
    // Google's uptime alert: per host, how many checker locations' latest result is false, above 1.
    expect(inputs(policy(recording, "geo-alerting-uptime")).conditions[0].conditionThreshold).toMatchObject({
      comparison: "COMPARISON_GT",
      thresholdValue: 1,
      aggregations: [{ perSeriesAligner: "ALIGN_NEXT_OLDER", crossSeriesReducer: "REDUCE_COUNT_FALSE", groupByFields: ["resource.label.host"] }],
    });
    expect(filters(policy(recording, "geo-alerting-uptime"))).toEqual([
      `resource.type="uptime_url" AND metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND metric.labels.check_id="${autoName("geo-alerting-uptime")}"`,
    ]);
  });

  it("checks HTTPS on the first domain where the stack has domains, from the regions configured", async () => {
    const https = await recordStack("us-multi", { loadBalancer: { domains: ["chat.example.com", "www.chat.example.com"] }, alerting: { uptimeRegions: ["USA", "EUROPE", "ASIA_PACIFIC"] } });
    const check = inputs(one(https, "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"));
    expect(check.monitoredResource.labels.host).toBe("chat.example.com");
    expect(check.httpCheck).toMatchObject({ port: 443, useSsl: true, validateSsl: true });
    expect(check.selectedRegions).toEqual(["USA", "EUROPE", "ASIA_PACIFIC"]);
    expect(inputs(policy(https, "geo-alerting-uptime")).documentation.content).toContain("https://chat.example.com/login (through Kong to messaging)");
  });

  it("checks a path of config's, crediting it to the service of the route Kong picks: the longest prefix", async () => {
    // GET /ping matches messaging-ui's `/` and attachments-ping's `/ping`; Kong takes the longer.
    const ping = await recordStack("us-multi", { alerting: { uptimePath: "/ping" } });
    expect(inputs(one(ping, "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig")).httpCheck.path).toBe("/ping");
    expect(inputs(policy(ping, "geo-alerting-uptime")).documentation.content).toContain("http://203.0.113.10/ping (through Kong to attachments)");
  });

  it("takes its thresholds from config", async () => {
    const tuned = await recordStack("us-multi", { alerting: { errorRatio: 0.2, replicaLagSec: 15 } });
    expect(queries(policy(tuned, "geo-alerting-lb-errors"))[0]).toMatch(/ > 0\.2$/);
    expect(queries(policy(tuned, "geo-alerting-region-us-east4"))[1]).toMatch(/ > 0\.2$/);
    expect(inputs(policy(tuned, "geo-alerting-db-replica-lag")).conditions[0].conditionThreshold.thresholdValue).toBe(15);
    expect(inputs(policy(tuned, "geo-alerting-lb-errors")).documentation.content).toContain("More than 20% of the answers");
    expect(queries(policy(recording, "geo-alerting-lb-errors"))[0]).toMatch(/ > 0\.05$/);
  });

  it("notifies no one without e-mail addresses, and says so in the plan", () => {
    expect(ofType(recording, "gcp:monitoring/notificationChannel:NotificationChannel")).toEqual([]);
    for (const p of policies(recording)) expect(inputs(p).notificationChannels).toEqual([]);
    expect(renderAlerting(recording.resources)).toMatch(/^Alerting: 8 policies, notifying no one: no alerting\.emails/);
  });

  it("notifies every address on every policy", async () => {
    const emails = ["oncall@example.com", "platform@example.com"];
    const notifying = await recordStack("us-multi", { alerting: { emails } });
    const channels = ofType(notifying, "gcp:monitoring/notificationChannel:NotificationChannel");
    expect(channels.map((c) => inputs(c).labels)).toEqual(emails.map((email_address) => ({ email_address })));
    const named = inputs(policies(notifying)[0]).notificationChannels;
    expect(new Set(named).size).toBe(2);
    for (const name of named) expect(name).toMatch(new RegExp(`^projects/${project}/notificationChannels/\\d+$`));
    for (const p of policies(notifying)) expect(inputs(p).notificationChannels).toEqual(named);
    expect(renderAlerting(notifying.resources)).toContain("notifying oncall@example.com, platform@example.com");
  });

  it("is left out as a whole with alerting.enabled: false, and the plan says so", async () => {
    const off = await recordStack("us-multi", { alerting: { enabled: false } });
    expect(off.resources.filter((r) => /gcp:(monitoring|logging)\//.test(r.type))).toEqual([]);
    expect(renderAlerting(off.resources)).toBe("Alerting: none (alerting.enabled is false)\n");
  });

  it("fails the policy pack when a region, the database or the uptime check goes unwatched", () => {
    const without = (name: string) => recording.resources.filter((r) => !(r.type === policyType && r.name === name)).map(policyResource);
    const covering = (resources: ReturnType<typeof without>) => checkPolicies(resources).filter((v) => v.rule === "alerting-covers-the-stack").map((v) => v.message);
    expect(covering(without("geo-alerting-region-us-west2"))).toEqual(["no alert policy watches backend group geo-us-west2"]);
    expect(covering(without("geo-alerting-db-primary-down"))).toEqual(["instances to watch for database/up: 1, watched: 0"]);
    expect(covering(without("geo-alerting-db-replica-lag"))).toEqual(["instances to watch for database/replication/replica_lag: 1, watched: 0"]);
    expect(covering(without("geo-alerting-uptime"))).toEqual(["no alert policy watches the uptime check"]);
    expect(covering(without("geo-alerting-boot-failures"))).toEqual(["no alert policy watches the log-based metric geo-boot-failures"]);
  });
});

describe("the alerting of us-standalone", () => {
  it("checks the entry service's health path, which the load balancer fronts without Kong", async () => {
    const recording = await recordStack("us-standalone");
    expect(inputs(one(recording, "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig")).httpCheck.path).toBe("/login");
    expect(inputs(policy(recording, "geo-alerting-uptime")).documentation.content).toContain("/login (messaging, which the load balancer fronts without Kong)");
    // Every tier of a region, Kong's and each service's, in the region's policy.
    const absent = filters(policy(recording, "geo-alerting-region-us-east4"));
    expect(absent).toHaveLength(3);
  });
});
