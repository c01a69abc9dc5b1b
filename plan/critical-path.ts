/**
 * The deploy's critical path: the longest chain of dependent resources, weighted by how long each
 * type typically takes to create, so a change that serialises slow resources shows up in review.
 */
import type { RecordedResource } from "./record";

/**
 * Typical creation seconds by type: estimates from Google's documentation where it gives one
 * (Cloud SQL "several minutes", API enablement "a minute or so", managed certificates up to 60
 * minutes but not waited for) and otherwise from the order of magnitude of a GCP create call.
 * They rank changes against each other; they are not a forecast to the minute.
 */
export const typicalCreateSeconds: Record<string, number> = {
  "gcp:projects/service:Service": 60,
  "gcp:compute/network:Network": 25,
  "gcp:compute/subnetwork:Subnetwork": 15,
  "gcp:compute/router:Router": 15,
  "gcp:compute/routerNat:RouterNat": 20,
  "gcp:compute/firewall:Firewall": 10,
  "gcp:compute/globalAddress:GlobalAddress": 10,
  "gcp:servicenetworking/connection:Connection": 60,
  "gcp:sql/databaseInstance:DatabaseInstance": 600,
  "gcp:sql/database:Database": 15,
  "gcp:sql/user:User": 10,
  "gcp:secretmanager/secret:Secret": 2,
  "gcp:secretmanager/secretVersion:SecretVersion": 2,
  "gcp:secretmanager/secretIamMember:SecretIamMember": 10,
  "gcp:serviceaccount/account:Account": 5,
  "gcp:projects/iAMMember:IAMMember": 10,
  "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate": 10,
  "gcp:compute/instance:Instance": 30,
  "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": 30,
  "gcp:compute/regionAutoscaler:RegionAutoscaler": 15,
  "gcp:compute/healthCheck:HealthCheck": 10,
  "gcp:compute/backendService:BackendService": 30,
  "gcp:compute/uRLMap:URLMap": 10,
  "gcp:compute/targetHttpProxy:TargetHttpProxy": 10,
  "gcp:compute/targetHttpsProxy:TargetHttpsProxy": 10,
  "gcp:compute/globalForwardingRule:GlobalForwardingRule": 20,
  "gcp:compute/regionHealthCheck:RegionHealthCheck": 10,
  "gcp:compute/regionBackendService:RegionBackendService": 30,
  "gcp:compute/regionUrlMap:RegionUrlMap": 10,
  "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy": 10,
  "gcp:compute/forwardingRule:ForwardingRule": 20,
  "gcp:compute/address:Address": 10,
  // Created in seconds; provisioning (DNS authorization, up to an hour) is not waited for.
  "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": 10,
  "gcp:certificatemanager/certificate:Certificate": 10,
  "gcp:certificatemanager/certificateMap:CertificateMap": 10,
  "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry": 10,
  // The route check: the load balancer's programming and the VMs' first boot, both minutes.
  "command:local:Command": 600,
};

/**
 * Resources whose type says too little, by the end of their name: the wait for the builder, whose
 * Maven and Vaadin builds of the messenger take 8 to 15 minutes (../shared/reference, build facts).
 */
export const typicalCreateSecondsByName: Record<string, number> = { "-builds-stored": 900 };

function typicalSeconds(node: GraphNode, weights: Record<string, number>): number {
  const name = node.urn.split("::").pop()!;
  const byName = Object.entries(typicalCreateSecondsByName).find(([suffix]) => name.endsWith(suffix));
  return byName ? byName[1] : (weights[node.type] ?? unknownTypeSeconds);
}

/** Types not in the table (and components, which create nothing) weigh this much. */
export const unknownTypeSeconds = 0;

export interface PathNode {
  urn: string;
  type: string;
  seconds: number;
}

export interface CriticalPath {
  totalSeconds: number;
  /** From the first resource to create to the last. */
  path: PathNode[];
}

type GraphNode = Pick<RecordedResource, "urn" | "type" | "dependencies">;

/**
 * @param weights seconds by type
 * @param changing where given, only these URNs take time (a change to a running stack: what it
 *   creates, replaces or updates, an update weighed as a create); the rest are already there
 */
export function criticalPath(resources: GraphNode[], weights: Record<string, number> = typicalCreateSeconds, changing?: Set<string>): CriticalPath {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const best = new Map<string, CriticalPath>();
  const visiting = new Set<string>();
  const longestEndingAt = (urn: string): CriticalPath => {
    const done = best.get(urn);
    if (done) return done;
    if (visiting.has(urn)) throw new Error(`dependency cycle through ${urn}`);
    visiting.add(urn);
    const node = byUrn.get(urn)!;
    let before: CriticalPath = { totalSeconds: 0, path: [] };
    for (const dep of node.dependencies) {
      if (!byUrn.has(dep)) continue;
      const candidate = longestEndingAt(dep);
      if (candidate.totalSeconds > before.totalSeconds) before = candidate;
    }
    const seconds = changing && !changing.has(urn) ? 0 : typicalSeconds(node, weights);
    const result = { totalSeconds: before.totalSeconds + seconds, path: [...before.path, { urn, type: node.type, seconds }] };
    visiting.delete(urn);
    best.set(urn, result);
    return result;
  };
  let longest: CriticalPath = { totalSeconds: 0, path: [] };
  for (const r of resources) {
    const candidate = longestEndingAt(r.urn);
    if (candidate.totalSeconds > longest.totalSeconds) longest = candidate;
  }
  return { totalSeconds: longest.totalSeconds, path: longest.path.filter((n) => n.seconds > 0) };
}

export function renderCriticalPath(result: CriticalPath, title = "Critical path"): string {
  const minutes = (s: number) => `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  const rows = result.path.map((n) => `  ${String(n.seconds).padStart(4)} s  ${n.type.split(":").pop()}  ${n.urn.split("::").pop()}`);
  return `${title}: about ${minutes(result.totalSeconds)}\n${rows.join("\n")}\n`;
}
