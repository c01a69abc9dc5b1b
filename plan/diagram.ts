/**
 * The architecture as a picture, drawn from the recorded plan itself (not from a hand-kept
 * drawing): regions with their groups, Kong and services, and what each topology adds on a VM (a
 * local PostgreSQL, a declarative config); the database's primary, standby and replica; the
 * pictures bucket and who writes to it; the builder, its bucket and who downloads from it; the messenger's own database; the load balancer; the path
 * a request takes; Cloud Monitoring and its uptime check; and a legend of line styles, ports and routes.
 */
import { kongConfValue } from "../startup/kong-conf";
import { kongHealthPath } from "../startup/kong-entities";
import { filesWrittenBy } from "../startup/startup-script";
import { buildsBucketPrefix } from "../config/check-builds";
import { picturesBucketPrefix } from "../config/messenger";
import { databaseInstances, Fleet, fleets, Inputs, inputsOfType, oneShotVms } from "./fleet";
import { kongRouteTargets } from "./outage";
import type { RecordedResource } from "./record";

const id = (text: string) => text.replace(/[^A-Za-z0-9]/g, "_");
const quote = (text: string) => `"${text.replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;

function serviceNames(script: string): string[] {
  return [...script.matchAll(/^write_unit geo-svc-([a-z0-9-]+)\.service/gm)].map((m) => m[1]);
}

/** `host:port` of the JDBC database a service's environment names (DB_URL), if any. */
function appDatabase(script: string, service: string): string | undefined {
  // The boot script writes each service's unit, then its environment, before the next unit.
  const start = script.indexOf(`write_unit geo-svc-${service}.service`);
  const next = script.indexOf("\nwrite_unit ", start + 1);
  const section = script.slice(start, next < 0 ? undefined : next);
  return /^DB_URL="?jdbc:[a-z]+:\/\/([^/"]+)/m.exec(section)?.[1];
}

/** How Kong on a gateway VM keeps its config, from what the boot script writes and runs. */
function kongOnVm(script: string): string {
  const conf = filesWrittenBy(script)["/etc/kong/kong.conf"] ?? "";
  if (kongConfValue(conf, "role") === "data_plane") return "data-plane";
  if (kongConfValue(conf, "database") === "off") return "declarative";
  return kongConfValue(conf, "pg_host") === "127.0.0.1" ? "local-postgres" : "shared";
}

/** The legend: line styles, Kong's ports and each service's, and which routes reach which service. */
function legend(resources: RecordedResource[], groups: Fleet[], migratorScript: string | undefined): string[] {
  const withKong = groups.find((g) => g.role === "gateway" || g.role === "kong-tier");
  const conf = withKong ? (filesWrittenBy(withKong.script)["/etc/kong/kong.conf"] ?? "") : "";
  const port = (key: string) => kongConfValue(conf, key)?.split(":").pop();
  // Standalone's Kong forwards to internal load balancers: their forwarding rule names the tier.
  const rules = inputsOfType(resources, "compute/forwardingRule:ForwardingRule");
  const targets = [...groups.map((g) => g.script), ...(migratorScript ? [migratorScript] : [])].flatMap(kongRouteTargets).map((t) => {
    const host = new URL(t.url).hostname;
    const rule = rules.find((r) => r.ipAddress === host);
    const tier = groups.find((g) => `${g.name}-ilb` === rule?.name);
    return { ...t, service: tier ? serviceNames(tier.script)[0] : t.service, region: rule?.region as string | undefined };
  });
  // Regional routes repeat per region under its prefix: one region's stand for all.
  const shownRegion = [...new Set(targets.map((t) => t.region))].sort()[0];
  const routes = new Map<string, string>();
  const servicePorts = new Map<string, string>();
  for (const t of targets) {
    servicePorts.set(t.service, new URL(t.url).port);
    if (t.region === shownRegion) routes.set(t.paths.join(" "), `${t.service}${t.internal ? " (internal: VPC only)" : ""}`);
  }
  const rows = [
    "solid: requests",
    "dashed: writes (pg_host, uploads, the app's data)",
    "dotted: reads (the declarative config, the builder's artifacts, the uptime check)",
    ...(conf ? [`Kong: proxy :${port("proxy_listen")} (health checks: ${kongHealthPath}), status :${port("status_listen")} and Admin API on loopback only`] : []),
    ...[...servicePorts].sort().map(([service, p]) => `${service}: :${p}`),
    ...(shownRegion ? [`routes in ${shownRegion} (each region's under its own prefix):`] : ["routes:"]),
    ...[...routes].map(([paths, service]) => `  ${paths} → ${service}`),
  ];
  return [
    "  subgraph cluster_legend {",
    '    label="Legend"; style="rounded"; color="#9aa0a6";',
    `    legend [shape=plaintext, style="", label=${quote(rows.join("\n"))}];`,
    "  }",
  ];
}

export function architectureDot(resources: RecordedResource[]): string {
  const lines = [
    "digraph architecture {",
    // compound and concentrate: edges from many regions to one database merge instead of crossing.
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.6, concentrate=true];',
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
    // decorate: a label is tied to its edge by a line, so it cannot be read as another box's.
    '  edge [fontname="Helvetica", fontsize=9, color="#555555", decorate=true];',
    '  users [label="Users", shape=ellipse, fillcolor="#e8f0fe"];',
  ];
  const ports = inputsOfType(resources, "GlobalForwardingRule").map((r) => `:${r.portRange}`).sort();
  lines.push(`  lb [label=${quote(`Global external Application LB\none anycast address ${ports.join(" ")}`)}, fillcolor="#fef7e0"];`);
  lines.push('  users -> lb [label="nearest healthy region"];');

  const autoscalers = new Map(inputsOfType(resources, "RegionAutoscaler").map((a) => [a.name, a.autoscalingPolicy]));
  const { primary, replicas } = databaseInstances(resources);

  const buckets = inputsOfType(resources, "storage/bucket:Bucket");
  const picturesBucket = buckets.find((b) => b.name.startsWith(picturesBucketPrefix));
  const buildsBucket = buckets.find((b) => b.name.startsWith(buildsBucketPrefix));
  const bucketGrants = inputsOfType(resources, "storage/bucketIAMMember:BucketIAMMember");
  const accountsOf = (grants: Inputs[]) => new Set(grants.map((g) => String(g.member).replace(/^serviceAccount:/, "")));
  const pictureWriters = accountsOf(bucketGrants.filter((g) => g.bucket === picturesBucket?.name && g.role === "roles/storage.objectCreator"));
  const artifactReaders = accountsOf(bucketGrants.filter((g) => g.bucket === buildsBucket?.name && g.condition));

  const groups = fleets(resources);
  for (const region of [...new Set(groups.map((g) => g.region))].sort()) {
    const inRegion = groups.filter((g) => g.region === region);
    const zones = inRegion[0].group.distributionPolicyZones.length;
    lines.push(`  subgraph cluster_${id(region)} {`);
    lines.push(`    label=${quote(`${region} (${zones} zones)`)}; style="rounded"; color="#4285f4";`);
    const edges: string[] = [];
    let kongNode = "";
    let onDatabase = false;
    const serviceNodes: { node: string; entry: boolean }[] = [];
    for (const { name, role, script, loadBalanced, group, serviceAccount } of inRegion) {
      const scaling = autoscalers.get(name);
      const size = scaling ? `${scaling.minReplicas}-${scaling.maxReplicas} VMs` : `${group.targetSize} VMs`;
      const node = id(name);
      if (role === "gateway") {
        kongNode = node;
        const mode = kongOnVm(script);
        const kongLabel = { shared: "Kong on every VM", "local-postgres": "Kong on every VM", declarative: "Kong (DB-less) on every VM", "data-plane": "Kong data plane on every VM" }[mode]!;
        lines.push(`    ${node} [label=${quote(`${kongLabel}\n${size}`)}, fillcolor="#e6f4ea"];`);
        onDatabase = mode === "shared";
        if (mode === "data-plane") {
          const endpoint = kongConfValue(filesWrittenBy(script)["/etc/kong/kong.conf"], "cluster_control_plane");
          edges.push(`  ${node} -> control_planes [label=${quote(`config over mTLS\n${endpoint}`)}];`);
        }
        if (mode === "local-postgres") {
          lines.push(`    ${node}_postgres [label=${quote("PostgreSQL on every VM\nKong's own database")}, shape=cylinder, fillcolor="#fce8e6"];`);
          edges.push(`  ${node} -> ${node}_postgres [style=dashed, label="127.0.0.1:5432"];`);
        }
        if (mode === "declarative") {
          lines.push(`    ${node}_config [label=${quote("kong.yaml\ndeclarative config, rendered by Pulumi")}, shape=note, fillcolor="#f1f3f4"];`);
          edges.push(`  ${node}_config -> ${node} [style=dotted, label="loaded at start"];`);
        }
        for (const service of serviceNames(script)) {
          lines.push(`    ${node}_${id(service)} [label=${quote(service)}];`);
          edges.push(`  ${node} -> ${node}_${id(service)} [label="loopback"];`);
          if (appDatabase(script, service)) edges.push(`  ${node}_${id(service)} -> app_database [style=dashed];`);
        }
      } else if (role === "kong-tier") {
        kongNode = node;
        onDatabase = true;
        lines.push(`    ${node} [label=${quote(`Kong tier\n${size}, internal LB`)}, fillcolor="#e6f4ea"];`);
      } else if (role === "control-plane") {
        lines.push(`    control_planes [label=${quote(`Kong control planes\n${size}, Admin API on loopback\ninternal passthrough LB, global access`)}, fillcolor="#e6f4ea"];`);
        edges.push('  control_planes -> db_primary [style=dashed, label="pg_host"];');
      } else {
        serviceNodes.push({ node, entry: loadBalanced });
        lines.push(`    ${node} [label=${quote(`${serviceNames(script).join(", ")} tier\n${size}, internal LB`)}];`);
        if (serviceNames(script).some((service) => appDatabase(script, service))) edges.push(`  ${node} -> app_database [style=dashed];`);
      }
      if (loadBalanced) edges.push(`  lb -> ${node};`);
      if (pictureWriters.has(serviceAccount)) edges.push(`  ${node} -> pictures [style=dashed, label="uploads"];`);
      if (artifactReaders.has(serviceAccount)) edges.push(`  builds -> ${node} [style=dotted, label="artifacts at first boot"];`);
    }
    lines.push("  }");
    for (const { node, entry } of serviceNodes) {
      edges.push(entry ? `  ${node} -> ${kongNode} [label="calls its region's Kong"];` : `  ${kongNode} -> ${node} [label="regional routes"];`);
    }
    if (kongNode && onDatabase && primary) edges.push(`  ${kongNode} -> db_primary [style=dashed, label="pg_host"];`);
    lines.push(...edges);
  }

  if (primary) {
    const where = primary.settings.locationPreference;
    lines.push("  subgraph cluster_database {");
    lines.push(`    label=${quote(`Kong's Cloud SQL (private IP only)`)}; style="rounded"; color="#db4437";`);
    lines.push(`    db_primary [label=${quote(`primary\n${where.zone}`)}, shape=cylinder, fillcolor="#fce8e6"];`);
    if (primary.settings.availabilityType === "REGIONAL") {
      lines.push(`    db_standby [label=${quote(`HA standby\n${where.secondaryZone}`)}, shape=cylinder, fillcolor="#fce8e6"];`);
      lines.push('    db_primary -> db_standby [label="synchronous", arrowhead=none];');
    }
    for (const replica of replicas) {
      const node = `db_replica_${id(replica.region)}`;
      lines.push(`    ${node} [label=${quote(`cross-region replica${replica.settings.availabilityType === "REGIONAL" ? " (HA)" : ""}\n${replica.settings.locationPreference.zone}`)}, shape=cylinder, fillcolor="#fce8e6"];`);
      lines.push(`    db_primary -> ${node} [label="async replication"];`);
    }
    lines.push("  }");
  }
  if (picturesBucket) {
    const access = bucketGrants.some((g) => g.bucket === picturesBucket.name && g.member === "allUsers") ? "public read" : "private";
    lines.push(`  pictures [label=${quote(`Cloud Storage ${picturesBucket.name}\nlocation ${picturesBucket.location}, ${access}`)}, shape=folder, fillcolor="#e8f0fe"];`);
  }
  for (const builder of oneShotVms(resources, "builder")) {
    lines.push(`  builds [label=${quote(`Cloud Storage ${buildsBucket.name}\nlocation ${buildsBucket.location}, the services' artifacts`)}, shape=folder, fillcolor="#e8f0fe"];`);
    lines.push(`  builder [label=${quote(`Builder (one-shot VM)\n${builder.zone}, ${builder.machineType}`)}, fillcolor="#f1f3f4"];`);
    lines.push('  builder -> builds [style=dashed, label="builds once, stores"];');
  }
  const migrators = oneShotVms(resources, "migrator");
  for (const migrator of migrators) {
    lines.push(`  migrator [label=${quote(`Kong migrator (one-shot VM)\n${migrator.zone}`)}, fillcolor="#f1f3f4"];`);
    if (primary) lines.push('  migrator -> db_primary [style=dashed, label="migrations, entities"];');
  }
  const appHosts = [...new Set(groups.flatMap((g) => serviceNames(g.script).map((service) => appDatabase(g.script, service))).filter(Boolean))];
  if (appHosts.length) {
    lines.push(`  app_database [label=${quote(`The messenger's database (outside this stack)\n${appHosts.join(", ")}`)}, shape=cylinder, fillcolor="#f1f3f4"];`);
  }
  const uptime = inputsOfType(resources, "monitoring/uptimeCheckConfig:UptimeCheckConfig")[0];
  if (uptime) {
    const policies = inputsOfType(resources, "monitoring/alertPolicy:AlertPolicy").length;
    lines.push(`  monitoring [label=${quote(`Cloud Monitoring\n${policies} alert policies, a dashboard\nboot failures from the VMs' logs`)}, shape=note, fillcolor="#e6f4ea"];`);
    lines.push(`  monitoring -> lb [style=dotted, label=${quote(`uptime check GET ${uptime.httpCheck.path}`)}];`);
  }
  lines.push(...legend(resources, groups, migrators[0]?.metadataStartupScript));
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

/** SVG from DOT, with Graphviz compiled to WebAssembly: no system package, no browser. */
export async function renderSvg(dot: string): Promise<string> {
  // An ES module; Node 20.19+ loads it with require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Graphviz } = require("@hpcc-js/wasm-graphviz") as typeof import("@hpcc-js/wasm-graphviz", { with: { "resolution-mode": "import" } });
  const graphviz = await Graphviz.load();
  return graphviz.dot(dot, "svg");
}
