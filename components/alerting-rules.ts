/**
 * What the stack's alerting watches, as plain values the tests check directly: the log filter of a
 * failing boot, the load balancer's PromQL, the Cloud SQL and uptime filters, each policy's text
 * and the dashboard. Metric types and labels as Google documents and uses them:
 * - `loadbalancing.googleapis.com/https/request_count` on `https_lb_rule` with `url_map_name`,
 *   `backend_name` (the instance group) and `response_code_class` ("500"), in PromQL as
 *   `loadbalancing_googleapis_com:https_request_count{monitored_resource="https_lb_rule"}`:
 *   GoogleCloudPlatform/monitoring-dashboard-samples@25d8c3e,
 *   alerts/google-gke/gke-ingress-server-errors-entire-workload.v1.json and
 *   dashboards/networking/cloud-cdn-monitoring.json; `https/total_latencies`,
 *   dashboards/networking/https-loadbalancer-monitoring.json.
 * - A group's VMs: `compute.googleapis.com/instance/cpu/utilization` by
 *   `metadata.system_labels."instance_group"`, dashboards/google-compute-engine/mig-instance-distribution-monitoring.json.
 * - `cloudsql.googleapis.com/database/up` on `cloudsql_database` (`database_id` is
 *   `project:instance`), dashboards/storage/cloudsql-monitoring.json; `database/replication/replica_lag`
 *   (seconds), Cloud SQL for PostgreSQL, "Replication lag" (cloud.google.com/sql/docs/postgres/replication/replication-lag).
 * - `monitoring.googleapis.com/uptime_check/check_passed` on `uptime_url` by `check_id`, the
 *   Monitoring API's uptime-check alerting (cloud.google.com/monitoring/uptime-checks/uptime-alerting-policies).
 */
import type { UptimeTarget } from "../config/stack-config";
import { failureMarker, logTag } from "../startup/boot-library";

/**
 * The guest agent's script runner logs each line a startup script prints as `startup-script: <line>`
 * in `jsonPayload.message` of its own log, labelled with the VM's group: GoogleCloudPlatform/guest-agent
 * 20260724.00, google_metadata_script_runner/main.go (runCmd; the logger named after the program),
 * and guest-logging-go@d04f635, logger/logger.go (parseMIGLabels) and logger/logevent.go.
 */
export const scriptRunnerLog = "google_metadata_script_runner";
const groupLogLabel = 'labels."compute.googleapis.com/instance_group_manager/name"';

/**
 * The tag and role (`readonly ROLE=`) of a script's line: `.` for its `[` and `]`, which needs no
 * escape in the query language's strings and means the same in RE2 and in the tests' JavaScript.
 */
const roleTag = (role: string) => `${logTag}.${role}.`;

/** Cloud Logging's filter of every line that failed a boot, the migrator or a build. */
export function bootFailureFilter(project: string): string {
  return [
    'resource.type="gce_instance"',
    `logName="projects/${project}/logs/${scriptRunnerLog}"`,
    `jsonPayload.message=~"^startup-script: ${roleTag("[a-z-]+")}: ${failureMarker} "`,
  ].join("\n");
}

/** The log-based metric's labels: the script's role and, on a group's VM, the group. */
export const bootFailureLabelExtractors = {
  role: `REGEXP_EXTRACT(jsonPayload.message, "${roleTag("([a-z-]+)")}")`,
  group: `EXTRACT(${groupLogLabel})`,
};

const requestCount = "loadbalancing_googleapis_com:https_request_count";

/** The load balancer's requests through its URL map, narrowed by more matchers (`label="value"`). */
function requests(urlMap: string, ...matchers: string[]): string {
  return `${requestCount}{${['monitored_resource="https_lb_rule"', `url_map_name="${urlMap}"`, ...matchers].join(",")}}`;
}

const backend = (group: string) => `backend_name="${group}"`;
const serverErrors = 'response_code_class="500"';

/** How far back the load balancer's rates look. */
const rateWindow = "5m";

/** The group serves nothing while the load balancer serves others: its region is dark or shut out. */
export function noTrafficQuery(urlMap: string, group: string): string {
  return (
    `(sum(rate(${requests(urlMap, backend(group))}[${rateWindow}])) or on() vector(0)) == 0\n` +
    `and on() sum(rate(${requests(urlMap)}[${rateWindow}])) > 0`
  );
}

/** The share of the group's answers that are 5xx, above `ratio`. */
export function backendErrorQuery(urlMap: string, group: string, ratio: number): string {
  return errorRatioQuery(urlMap, [backend(group)], ratio);
}

/** The share of all answers through the load balancer that are 5xx (its own 502s and 503s too), above `ratio`. */
export function loadBalancerErrorQuery(urlMap: string, ratio: number): string {
  return errorRatioQuery(urlMap, [], ratio);
}

function errorRatioQuery(urlMap: string, scope: string[], ratio: number): string {
  return (
    `sum(rate(${requests(urlMap, ...scope, serverErrors)}[${rateWindow}]))\n` +
    `/ sum(rate(${requests(urlMap, ...scope)}[${rateWindow}])) > ${ratio}`
  );
}

/** A label's value in a filter: the one given, or any of several (`one_of`). */
const anyOf = (values: string[]) => (values.length === 1 ? `"${values[0]}"` : `one_of(${values.map((v) => `"${v}"`).join(", ")})`);

/** A Cloud SQL metric of one instance, or of several. */
export function cloudSqlFilter(metric: "database/up" | "database/cpu/utilization" | "database/replication/replica_lag", project: string, instances: string[]): string {
  return `resource.type="cloudsql_database" AND resource.labels.database_id=${anyOf(instances.map((i) => `${project}:${i}`))} AND metric.type="cloudsql.googleapis.com/${metric}"`;
}

/** A group's VMs, or several groups', by the CPU utilization each VM reports. */
export function groupVmsFilter(groups: string[]): string {
  return `resource.type="gce_instance" AND metric.type="compute.googleapis.com/instance/cpu/utilization" AND metadata.system_labels."instance_group"=${anyOf(groups)}`;
}

export function uptimeFilter(checkId: string): string {
  return `resource.type="uptime_url" AND metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND metric.labels.check_id="${checkId}"`;
}

export function bootFailureMetricFilter(metricName: string): string {
  return `resource.type="gce_instance" AND metric.type="logging.googleapis.com/user/${metricName}"`;
}

/** Each policy's runbook: a bullet of README.md's Runbooks whose bold title is this text. */
export const runbooks = {
  region: "A region serves no traffic, or its backends fail.",
  errors: "Errors through the load balancer.",
  databaseDown: "Kong's database primary is down.",
  replicaLag: "A database replica lags.",
  bootFailure: "A boot, the migrator or a build failed.",
  uptime: "The uptime check fails.",
  failover: "The database's region is lost: fail Kong's database over.",
} as const;

/** "5%" for 0.05. */
export function percent(ratio: number): string {
  return `${Math.round(ratio * 10000) / 100}%`;
}

/** A policy's documentation: what it means, what to do, and the README's runbook. */
function text(means: string, act: string, runbook: string): string {
  return `${means}\n\n${act}\n\nREADME.md, Runbooks: "${runbook}"`;
}

export const policyTexts = {
  region: (region: string, ratio: number) =>
    text(
      `The load balancer sends ${region} no requests while it serves others, or more than ${percent(ratio)} of ${region}'s answers are 5xx, or ${region}'s VMs stopped reporting for 5 minutes. Users are served by the other regions, farther away, as long as they have the capacity.`,
      `Look at the group's VMs (gcloud compute instance-groups managed list-instances) and their boot log (the "boot failures" policy). A whole region lost needs nothing but watching; when it holds Kong's database primary, the database policy fires too.`,
      runbooks.region,
    ),
  errors: (ratio: number) =>
    text(
      `More than ${percent(ratio)} of the answers through the load balancer are 5xx: the load balancer's own 502 and 503 (no healthy backend) or the services' errors through Kong.`,
      "The dashboard shows which region's backends answer them; a region's own policy names it. Errors everywhere at once point at a rollout or at what every region shares (a service's own database).",
      runbooks.errors,
    ),
  databaseDown: (instance: string) =>
    text(
      `Cloud SQL reports Kong's database primary ${instance} down, or reports nothing for 5 minutes. Gateways keep serving from Kong's cache and new VMs start from their fallback config, but Kong's configuration cannot change.`,
      `A zone's loss fails over to the HA standby by itself within minutes. When the region is lost, fail the database over: README.md, Runbooks: "${runbooks.failover}"`,
      runbooks.databaseDown,
    ),
  replicaLag: (seconds: number) =>
    text(
      `A cross-region replica of Kong's database lags its primary by more than ${seconds} s: what a promotion of it would lose. Kong reads no replica, so serving is not affected.`,
      "Look at the primary's write load and the replica's CPU (the dashboard); before a failover, wait for the lag to fall if the primary still answers.",
      runbooks.replicaLag,
    ),
  bootFailure: () =>
    text(
      `A boot script, the migrator or a build logged its "${failureMarker}" line: the VM stopped Kong and autohealing replaces it, the migrator did not write Kong's entities, or a build stored no artifact.`,
      `The metric's labels name the role and the group; the line itself is in Cloud Logging (log ${scriptRunnerLog}, the filter of the metric). A boot that fails on every VM holds a rollout back.`,
      runbooks.bootFailure,
    ),
  uptime: (url: string, target: UptimeTarget) =>
    text(
      `Google's uptime checkers cannot get a 2xx from ${url}${target.path} (${target.throughKong ? `through Kong to ${target.service}` : `${target.service}, which the load balancer fronts without Kong`}) in more than one location.`,
      "Users are likely failing too: the load-balancer and region policies say where. Check the domain's DNS and certificate when only HTTPS fails.",
      runbooks.uptime,
    ),
};

export interface DashboardInputs {
  title: string;
  urlMap: string;
  /** The load balancer's backend group of each region. */
  backends: Record<string, string>;
  /** Every group of the stack. */
  groups: string[];
  project: string;
  /** Kong's database instances: the primary first. */
  databases: string[];
  uptimeCheckId: string;
}

/** A Cloud Monitoring dashboard (mosaicLayout JSON) of the stack. */
export function dashboardJson(input: DashboardInputs): string {
  const promql = (title: string, query: string) => ({ title, xyChart: { dataSets: [{ plotType: "LINE", prometheusQuery: query, minAlignmentPeriod: "60s" }] } });
  const series = (title: string, filter: string, aligner: string, reducer: string, groupBy: string[]) => ({
    title,
    xyChart: {
      dataSets: [
        { plotType: "LINE", minAlignmentPeriod: "60s", timeSeriesQuery: { timeSeriesFilter: { filter, aggregation: { alignmentPeriod: "60s", perSeriesAligner: aligner, crossSeriesReducer: reducer, groupByFields: groupBy } } } },
      ],
    },
  });
  const ofBackends = `backend_name=~"${Object.values(input.backends).join("|")}"`;
  const byBackend = (...matchers: string[]) => `sum by (backend_name) (rate(${requests(input.urlMap, ofBackends, ...matchers)}[${rateWindow}]))`;
  const latency = `metric.type="loadbalancing.googleapis.com/https/total_latencies" AND resource.type="https_lb_rule" AND resource.labels.url_map_name="${input.urlMap}"`;
  const { project, databases } = input;
  const widgets = [
    promql("Requests per second, by region's group", byBackend()),
    promql("5xx per second, by region's group", byBackend(serverErrors)),
    series("Latency p95 (ms), by region's group", latency, "ALIGN_PERCENTILE_95", "REDUCE_MEAN", ['resource.label."backend_name"']),
    series("VMs reporting, by group", groupVmsFilter(input.groups), "ALIGN_MEAN", "REDUCE_COUNT", ['metadata.system_labels."instance_group"']),
    series("Uptime check passed, by checker location", uptimeFilter(input.uptimeCheckId), "ALIGN_NEXT_OLDER", "REDUCE_COUNT_TRUE", ['metric.label."checker_location"']),
    ...(databases.length
      ? [
          series("Kong's database up", cloudSqlFilter("database/up", project, databases), "ALIGN_MIN", "REDUCE_MIN", ['resource.label."database_id"']),
          series("Kong's database CPU", cloudSqlFilter("database/cpu/utilization", project, databases), "ALIGN_MEAN", "REDUCE_MEAN", ['resource.label."database_id"']),
        ]
      : []),
    ...(databases.length > 1
      ? [series("Replica lag (s)", cloudSqlFilter("database/replication/replica_lag", project, databases.slice(1)), "ALIGN_MAX", "REDUCE_MAX", ['resource.label."database_id"'])]
      : []),
  ];
  const width = 6;
  const height = 4;
  const tiles = widgets.map((widget, i) => ({ xPos: (i % 2) * width, yPos: Math.floor(i / 2) * height, width, height, widget }));
  return JSON.stringify({ displayName: input.title, mosaicLayout: { columns: 12, tiles } });
}
