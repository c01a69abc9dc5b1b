/**
 * StackAlerting: what tells people that a region, the database or a boot needs them: an uptime
 * check of the public URL, alert policies (each with its runbook as documentation), e-mail
 * channels, a log-based metric of failed boots, and a dashboard. What each watches is in
 * alerting-rules.ts.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { AlertingPlan } from "../config/stack-config";
import {
  backendErrorQuery,
  bootFailureFilter,
  bootFailureLabelExtractors,
  bootFailureMetricFilter,
  cloudSqlFilter,
  dashboardJson,
  groupVmsFilter,
  loadBalancerErrorQuery,
  noTrafficQuery,
  policyTexts,
  uptimeFilter,
} from "./alerting-rules";

export interface StackAlertingArgs {
  prefix: string;
  project: string;
  plan: AlertingPlan;
  /** Where the uptime check connects: the first domain over HTTPS, else the address over HTTP. */
  uptimeHost: { host: pulumi.Input<string>; https: boolean };
  /** The URL users reach, for the uptime policy's text. */
  url: pulumi.Output<string>;
  /** The load balancer's serving URL map: its requests carry its name. */
  urlMapName: pulumi.Output<string>;
  /** The load balancer's backend instance group (URL) of each region. */
  backends: Record<string, pulumi.Output<string>>;
  /** Every managed group's name, by region. */
  groups: Record<string, pulumi.Output<string>[]>;
  /** Kong's Cloud SQL instances' names, the primary first; undefined without a database. */
  databaseInstances?: pulumi.Output<string>[];
  labels: Record<string, string>;
  apis: pulumi.Resource[];
}

/** One condition of a policy. */
type Condition = gcp.types.input.monitoring.AlertPolicyCondition;

const everyMinute = { alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MEAN" };

export class StackAlerting extends pulumi.ComponentResource {
  constructor(name: string, args: StackAlertingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:alerting:StackAlerting", name, {}, opts);
    const { prefix, project, plan } = args;
    const after = { parent: this, dependsOn: args.apis };

    // Named by address: adding or removing one leaves the others' channels alone.
    const channels = plan.emails.map(
      (email) =>
        new gcp.monitoring.NotificationChannel(
          `${name}-email-${email}`,
          { displayName: `${prefix}: ${email}`, type: "email", labels: { email_address: email }, userLabels: args.labels },
          after,
        ),
    );
    const policy = (key: string, displayName: string, severity: "CRITICAL" | "WARNING", content: pulumi.Input<string>, conditions: pulumi.Input<Condition>[]) =>
      new gcp.monitoring.AlertPolicy(
        `${name}-${key}`,
        {
          displayName: `${prefix}: ${displayName}`,
          combiner: "OR",
          severity,
          conditions,
          documentation: { content, mimeType: "text/markdown" },
          notificationChannels: channels.map((c) => c.name),
          alertStrategy: { autoClose: "86400s" },
          userLabels: args.labels,
        },
        after,
      );

    const groupName = (url: pulumi.Output<string>) => url.apply((u) => u.split("/").pop()!);
    const backendGroups = Object.fromEntries(Object.entries(args.backends).map(([region, url]) => [region, groupName(url)]));
    const promql = (displayName: string, query: pulumi.Input<string>, duration: string): Condition => ({
      displayName,
      conditionPrometheusQueryLanguage: { query, duration, evaluationInterval: "60s" },
    });

    for (const [region, group] of Object.entries(backendGroups)) {
      policy(`region-${region}`, `${region} serves no traffic or its backends fail`, "CRITICAL", policyTexts.region(region, plan.errorRatio), [
        promql(`${region}: no requests while other regions are served`, pulumi.all([args.urlMapName, group]).apply(([map, g]) => noTrafficQuery(map, g)), "600s"),
        promql(`${region}: 5xx above ${plan.errorRatio}`, pulumi.all([args.urlMapName, group]).apply(([map, g]) => backendErrorQuery(map, g, plan.errorRatio)), "300s"),
        ...(args.groups[region] ?? []).map((g) => ({
          displayName: pulumi.interpolate`${g}: no VM reports`,
          conditionAbsent: { filter: g.apply((group) => groupVmsFilter([group])), duration: "300s", aggregations: [everyMinute] },
        })),
      ]);
    }

    policy("lb-errors", "5xx through the load balancer", "CRITICAL", policyTexts.errors(plan.errorRatio), [
      promql(`5xx above ${plan.errorRatio}`, args.urlMapName.apply((map) => loadBalancerErrorQuery(map, plan.errorRatio)), "300s"),
    ]);

    if (args.databaseInstances) {
      const [primary, ...replicas] = args.databaseInstances;
      const up = primary.apply((instance) => cloudSqlFilter("database/up", project, [instance]));
      policy("db-primary-down", "Kong's database primary is down", "CRITICAL", primary.apply(policyTexts.databaseDown), [
        { displayName: "database/up below 1", conditionThreshold: { filter: up, comparison: "COMPARISON_LT", thresholdValue: 1, duration: "120s", aggregations: [{ alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MIN" }] } },
        { displayName: "database/up not reported", conditionAbsent: { filter: up, duration: "300s", aggregations: [everyMinute] } },
      ]);
      if (replicas.length) {
        policy(
          "db-replica-lag",
          "a replica of Kong's database lags",
          "WARNING",
          policyTexts.replicaLag(plan.replicaLagSec),
          replicas.map((replica) => ({
            displayName: pulumi.interpolate`${replica}: replica_lag above ${plan.replicaLagSec} s`,
            conditionThreshold: {
              filter: replica.apply((instance) => cloudSqlFilter("database/replication/replica_lag", project, [instance])),
              comparison: "COMPARISON_GT",
              thresholdValue: plan.replicaLagSec,
              duration: "300s",
              aggregations: [{ alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MAX" }],
            },
          })),
        );
      }
    }

    const failures = new gcp.logging.Metric(
      `${name}-boot-failures`,
      {
        name: `${prefix}-boot-failures`,
        description: "Lines that failed a boot script, the migrator or a build (README, Alerting).",
        filter: bootFailureFilter(project),
        metricDescriptor: {
          metricKind: "DELTA",
          valueType: "INT64",
          unit: "1",
          labels: [
            { key: "role", valueType: "STRING", description: "The script's role: gateway, control-plane, service-tier, migrator, builder." },
            { key: "group", valueType: "STRING", description: "The managed instance group, empty for the migrator and the builder." },
          ],
        },
        labelExtractors: bootFailureLabelExtractors,
      },
      after,
    );
    policy("boot-failures", "a boot, the migrator or a build failed", "WARNING", policyTexts.bootFailure(), [
      {
        displayName: "a FAILED line",
        conditionThreshold: {
          filter: failures.name.apply(bootFailureMetricFilter),
          comparison: "COMPARISON_GT",
          thresholdValue: 0,
          duration: "0s",
          aggregations: [{ alignmentPeriod: "300s", perSeriesAligner: "ALIGN_SUM", crossSeriesReducer: "REDUCE_SUM", groupByFields: ["metric.label.role", "metric.label.group"] }],
        },
      },
    ]);

    const { uptime } = plan;
    const check = new gcp.monitoring.UptimeCheckConfig(
      `${name}-uptime`,
      {
        displayName: `${prefix}: GET ${uptime.path}`,
        period: "60s",
        timeout: "10s",
        checkerType: "STATIC_IP_CHECKERS",
        ...(plan.uptimeRegions ? { selectedRegions: plan.uptimeRegions } : {}),
        monitoredResource: { type: "uptime_url", labels: { project_id: project, host: args.uptimeHost.host } },
        httpCheck: {
          path: uptime.path,
          port: args.uptimeHost.https ? 443 : 80,
          useSsl: args.uptimeHost.https,
          validateSsl: args.uptimeHost.https,
          requestMethod: "GET",
          acceptedResponseStatusCodes: [{ statusClass: "STATUS_CLASS_2XX" }],
        },
        userLabels: args.labels,
      },
      after,
    );
    policy("uptime", `the uptime check of ${uptime.path} fails`, "CRITICAL", args.url.apply((url) => policyTexts.uptime(url, uptime)), [
      {
        displayName: "uptime check failing in more than one location",
        conditionThreshold: {
          filter: check.uptimeCheckId.apply(uptimeFilter),
          comparison: "COMPARISON_GT",
          thresholdValue: 1,
          duration: "60s",
          aggregations: [{ alignmentPeriod: "1200s", perSeriesAligner: "ALIGN_NEXT_OLDER", crossSeriesReducer: "REDUCE_COUNT_FALSE", groupByFields: ["resource.label.host"] }],
        },
      },
    ]);

    new gcp.monitoring.Dashboard(
      `${name}-dashboard`,
      {
        dashboardJson: pulumi
          .all([args.urlMapName, pulumi.all(backendGroups), pulumi.all(Object.values(args.groups).flat()), pulumi.all(args.databaseInstances ?? []), check.uptimeCheckId])
          .apply(([urlMap, backends, groups, databases, uptimeCheckId]) =>
            dashboardJson({ title: `${prefix}: geo-api-layer (${pulumi.getStack()})`, urlMap, backends, groups, project, databases, uptimeCheckId }),
          ),
      },
      after,
    );

    this.registerOutputs({});
  }
}
