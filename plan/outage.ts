/**
 * What a region outage does to a stack, read from its recorded plan: remove every resource of the
 * lost region and follow each route from the global load balancer (or from a region's own callers,
 * for standalone's regional routes) to the service that answers it.
 */
import { parse } from "yaml";
import { filesWrittenBy } from "../startup/startup-script";
import { fallbackConfigPath } from "../startup/kong-fallback";
import { entitiesFromAdminRequests } from "../startup/kong-entities";
import { databaseInstances, fleets, Inputs, inputsOfType, oneShotVms } from "./fleet";
import type { RecordedResource } from "./record";

export interface KongRouteTarget {
  route: string;
  /** Kong's service the route forwards to, and its URL. */
  service: string;
  url: string;
  paths: string[];
  /** Where Kong forwards: `127.0.0.1` (the same VM) or an internal load balancer's address. */
  host: string;
  /** Restricted to loopback and the VPC: not reachable through the global load balancer. */
  internal: boolean;
}

export interface RouteStatus {
  route: string;
  paths: string[];
  /** How callers reach it: the global load balancer, or only callers inside `region`. */
  entry: "global" | "regional";
  /** Regions whose VMs still answer it. */
  servedFrom: string[];
}

export interface OutageReport {
  lostRegion: string;
  routes: RouteStatus[];
  /** Changing Kong's routes still works (a database to write to, or config rendered per VM). */
  configChanges: boolean;
  /** A new or replaced VM can still boot and join (autoscaling, autohealing, rollouts). */
  newVms: boolean;
}

/**
 * Kong's routes to services and where they forward, from the entities a VM or the migrator writes;
 * routes without a service (Kong's health route, answered by a plugin) forward nowhere.
 */
export function kongRouteTargets(script: string): KongRouteTarget[] {
  const files = filesWrittenBy(script);
  const declarative = files["/etc/kong/kong.yaml"];
  const requests = files["/etc/kong/admin-requests.tsv"];
  const services: Inputs[] = [
    ...(declarative ? (parse(declarative) as Inputs).services : []),
    ...(requests ? entitiesFromAdminRequests(requests).services : []),
  ];
  return services.flatMap((service) =>
    service.routes.map((route: Inputs) => ({
      route: route.name,
      service: service.name,
      url: service.url,
      paths: route.paths,
      host: new URL(service.url).hostname,
      internal: route.plugins.some((p: Inputs) => p.name === "ip-restriction"),
    })),
  );
}

export function outageReport(resources: RecordedResource[], lostRegion: string): OutageReport {
  const alive = (region: string) => region !== lostRegion;
  const groups = fleets(resources);
  const entryGroups = groups.filter((g) => g.loadBalanced);
  // Internal load balancer address to the region of the tier behind it.
  const ilbRegion = new Map<string, string>(inputsOfType(resources, "compute/forwardingRule:ForwardingRule").map((f) => [f.ipAddress, f.region]));
  const { primary } = databaseInstances(resources);
  const migrator = oneShotVms(resources, "migrator")[0];
  const routes: RouteStatus[] = [];

  const gateways = groups.filter((g) => g.role === "gateway");
  if (gateways.length) {
    // Kong and the services on each VM: every gateway answers every route on loopback, from its
    // own config (dbless, sidecar) or from its cache of the shared database's.
    const targets = kongRouteTargets(migrator?.metadataStartupScript ?? gateways[0].script).filter((t) => !t.internal);
    const servedFrom = entryGroups.filter((g) => alive(g.region)).map((g) => g.region).sort();
    routes.push(...targets.map((t) => ({ route: t.route, paths: t.paths, entry: "global" as const, servedFrom })));
  } else {
    // Standalone: the load balancer fronts the entry tier directly; each region's Kong forwards
    // its regional routes to internal load balancers, reachable only inside their own region.
    const entry = entryGroups.filter((g) => alive(g.region));
    routes.push({ route: "entry-service", paths: ["/"], entry: "global", servedFrom: entry.map((g) => g.region).sort() });
    for (const target of kongRouteTargets(migrator?.metadataStartupScript ?? "")) {
      const region = ilbRegion.get(target.host) ?? "";
      const kongThere = groups.some((g) => g.role === "kong-tier" && g.region === region);
      routes.push({ route: target.route, paths: target.paths, entry: "regional", servedFrom: alive(region) && kongThere ? [region] : [] });
    }
  }
  // Writes (and `kong migrations list`) go to the primary. Only the replica's own region reads
  // from it, so losing it loses nothing its region's loss did not. A gateway with a fallback
  // config starts without its database (hybrid's control planes do not: they are the primary's region's).
  const primaryUp = !primary || alive(primary.region);
  const startsWithoutDatabase = groups.filter((g) => g.role === "gateway" || g.role === "kong-tier").every((g) => filesWrittenBy(g.script)[fallbackConfigPath] !== undefined);
  return { lostRegion, routes, configChanges: primaryUp, newVms: primaryUp || startsWithoutDatabase };
}

/**
 * One row of the README's outage table; the README must carry exactly these rows.
 * @param roles what else a region holds, e.g. `{ "us-central1": "database" }`
 */
export function renderOutageRow(topology: string, report: OutageReport, roles: Record<string, string>): string {
  const lost = `${report.lostRegion}${roles[report.lostRegion] ? ` (${roles[report.lostRegion]})` : ""}`;
  const global = report.routes.filter((r) => r.entry === "global");
  const regional = report.routes.filter((r) => r.entry === "regional");
  const publicServed = [...new Set(global.flatMap((r) => r.servedFrom))].sort().join(", ") || "none";
  const regionalServed = regional.length ? `${regional.filter((r) => r.servedFrom.length).length} of ${regional.length}` : "n/a";
  const yesNo = (ok: boolean) => (ok ? "yes" : "no");
  return `| ${topology} | ${lost} | ${publicServed} | ${regionalServed} | ${yesNo(report.configChanges)} | ${yesNo(report.newVms)} |`;
}

/** The database's and the replicas' regions, for the outage table. */
export function databaseRoles(resources: RecordedResource[]): Record<string, string> {
  const roles: Record<string, string> = {};
  const { primary, replicas } = databaseInstances(resources);
  if (primary) roles[primary.region] = "database";
  for (const replica of replicas) roles[replica.region] = "replica";
  return roles;
}

/** The regions with instance groups, sorted. */
export function groupRegions(resources: RecordedResource[]): string[] {
  return [...new Set(fleets(resources).map((g) => g.region))].sort();
}
