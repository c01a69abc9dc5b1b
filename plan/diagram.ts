/**
 * The architecture as a picture, drawn from the recorded plan itself (not from a hand-kept
 * drawing): regions with their groups, Kong and services; the database's primary, standby and
 * replica; the pictures bucket and who writes to it; the load balancer; and the path a request takes.
 */
import { databaseInstances, fleets, inputsOfType } from "./fleet";
import type { RecordedResource } from "./record";

const id = (text: string) => text.replace(/[^A-Za-z0-9]/g, "_");
const quote = (text: string) => `"${text.replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;

function serviceNames(script: string): string[] {
  return [...script.matchAll(/^write_unit geo-svc-([a-z0-9-]+)\.service/gm)].map((m) => m[1]);
}

export function architectureDot(resources: RecordedResource[]): string {
  const lines = [
    "digraph architecture {",
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.6];',
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    '  users [label="Users", shape=ellipse, fillcolor="#e8f0fe"];',
  ];
  const ports = inputsOfType(resources, "GlobalForwardingRule").map((r) => `:${r.portRange}`).sort();
  lines.push(`  lb [label=${quote(`Global external Application LB\none anycast address ${ports.join(" ")}`)}, fillcolor="#fef7e0"];`);
  lines.push('  users -> lb [label="nearest healthy region"];');

  const autoscalers = new Map(inputsOfType(resources, "RegionAutoscaler").map((a) => [a.name, a.autoscalingPolicy]));
  const { primary, replica } = databaseInstances(resources);

  const bucketGrants = inputsOfType(resources, "storage/bucketIAMMember:BucketIAMMember");
  const pictureWriters = new Set(bucketGrants.filter((g) => g.role === "roles/storage.objectCreator").map((g) => String(g.member).replace(/^serviceAccount:/, "")));

  const groups = fleets(resources);
  for (const region of [...new Set(groups.map((g) => g.region))].sort()) {
    const inRegion = groups.filter((g) => g.region === region);
    const zones = inRegion[0].group.distributionPolicyZones.length;
    lines.push(`  subgraph cluster_${id(region)} {`);
    lines.push(`    label=${quote(`${region} (${zones} zones)`)}; style="rounded"; color="#4285f4";`);
    const edges: string[] = [];
    let kongNode = "";
    const serviceNodes: { node: string; entry: boolean }[] = [];
    for (const { name, role, script, loadBalanced, group, serviceAccount } of inRegion) {
      const scaling = autoscalers.get(name);
      const size = scaling ? `${scaling.minReplicas}-${scaling.maxReplicas} VMs` : `${group.targetSize} VMs`;
      const node = id(name);
      if (role === "gateway") {
        kongNode = node;
        lines.push(`    ${node} [label=${quote(`Kong on every VM\n${size}`)}, fillcolor="#e6f4ea"];`);
        for (const service of serviceNames(script)) {
          lines.push(`    ${node}_${id(service)} [label=${quote(service)}];`);
          edges.push(`  ${node} -> ${node}_${id(service)} [label="loopback"];`);
        }
      } else if (role === "kong-tier") {
        kongNode = node;
        lines.push(`    ${node} [label=${quote(`Kong tier\n${size}, internal LB`)}, fillcolor="#e6f4ea"];`);
      } else {
        serviceNodes.push({ node, entry: loadBalanced });
        lines.push(`    ${node} [label=${quote(`${serviceNames(script).join(", ")} tier\n${size}, internal LB`)}];`);
      }
      if (loadBalanced) edges.push(`  lb -> ${node};`);
      if (pictureWriters.has(serviceAccount)) edges.push(`  ${node} -> pictures [style=dashed, label="uploads"];`);
    }
    lines.push("  }");
    for (const { node, entry } of serviceNodes) {
      edges.push(entry ? `  ${node} -> ${kongNode} [label="calls its region's Kong"];` : `  ${kongNode} -> ${node} [label="regional routes"];`);
    }
    if (kongNode && primary) edges.push(`  ${kongNode} -> db_primary [style=dashed, label="pg_host"];`);
    if (kongNode && replica) edges.push(`  ${kongNode} -> db_replica [style=dotted, label="pg_ro_host"];`);
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
    if (replica) {
      lines.push(`    db_replica [label=${quote(`read replica\n${replica.settings.locationPreference.zone}`)}, shape=cylinder, fillcolor="#fce8e6"];`);
      lines.push('    db_primary -> db_replica [label="async replication"];');
    }
    lines.push("  }");
  }
  for (const bucket of inputsOfType(resources, "storage/bucket:Bucket")) {
    const access = bucketGrants.some((g) => g.member === "allUsers") ? "public read" : "private";
    lines.push(`  pictures [label=${quote(`Cloud Storage ${bucket.name}\nlocation ${bucket.location}, ${access}`)}, shape=folder, fillcolor="#e8f0fe"];`);
  }
  for (const migrator of inputsOfType(resources, "compute/instance:Instance")) {
    lines.push(`  migrator [label=${quote(`Kong migrator (one-shot VM)\n${migrator.zone}`)}, fillcolor="#f1f3f4"];`);
    if (primary) lines.push('  migrator -> db_primary [label="migrations, entities"];');
  }
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
