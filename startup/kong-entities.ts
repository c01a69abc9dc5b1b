/**
 * Kong's services, routes and plugins for a stack, from one definition of the microservices.
 * The same entities render as a declarative file (DB-less, `deck validate`) and as idempotent
 * Admin API upserts (a database-backed cluster), so the two cannot drift apart.
 */
import { createHash } from "crypto";
import { stringify } from "yaml";
import type { RouteConfig, ServiceConfig } from "../config/schema";

/** Tag on every entity this project owns; entities with it that are no longer wanted are pruned. */
export const managedTag = "geo-api-layer";

export interface KongPlugin {
  /** Deterministic, so a PUT of the same plugin twice updates instead of adding a second one. */
  id: string;
  name: string;
  config: Record<string, unknown>;
  tags: string[];
}

export interface KongRoute {
  name: string;
  paths: string[];
  methods?: string[];
  protocols: string[];
  strip_path: boolean;
  preserve_host: boolean;
  tags: string[];
  plugins: KongPlugin[];
}

export interface KongService {
  name: string;
  url: string;
  tags: string[];
  routes: KongRoute[];
}

export interface KongEntityOptions {
  /** Address ranges allowed on internal routes besides loopback: the VPC's subnets. */
  internalSources: string[];
}

/** Kong and the services on the same VM: each service on loopback, its routes as configured. */
export function kongEntities(services: ServiceConfig[], options: KongEntityOptions): KongService[] {
  return services.map((service) => ({
    name: service.name,
    url: `http://127.0.0.1:${service.port}`,
    tags: [managedTag],
    routes: service.routes.map((route) => kongRoute(route.name, route.paths, route, options)),
  }));
}

export interface RegionalEndpoints {
  region: string;
  /** e.g. `/api/us/east` */
  routePrefix: string;
  /** Short region name for entity names, e.g. `us-e4`. */
  shortName: string;
  /** Address of each service's internal load balancer in this region, by service name. */
  serviceAddresses: Record<string, string>;
}

/**
 * Standalone: every region's routes under its own prefix, each forwarding only to that region's
 * tier. A Kong service per route path carries the original path, so `/api/us/east/upload` reaches
 * the Attachments tier in us-east4 as `/upload`.
 */
export function regionalKongEntities(services: ServiceConfig[], regions: RegionalEndpoints[], options: KongEntityOptions): KongService[] {
  return regions.flatMap((region) =>
    services.flatMap((service) =>
      service.routes.flatMap((route) =>
        route.paths.map((path, i) => {
          const name = `${route.name}${route.paths.length > 1 ? `-${i}` : ""}-${region.shortName}`;
          const suffix = path === "/" ? "" : path;
          return {
            name,
            url: `http://${region.serviceAddresses[service.name]}:${service.port}${suffix}`,
            tags: [managedTag, `region-${region.region}`],
            routes: [{ ...kongRoute(name, [`${region.routePrefix}${suffix}`], route, options), strip_path: true }],
          };
        }),
      ),
    ),
  );
}

function kongRoute(name: string, paths: string[], route: RouteConfig, options: KongEntityOptions): KongRoute {
  return {
    name,
    paths,
    ...(route.methods ? { methods: route.methods } : {}),
    protocols: ["http", "https"],
    strip_path: route.stripPath,
    // The load balancer forwards the user's Host; services build absolute links from it.
    preserve_host: true,
    tags: [managedTag],
    plugins: route.internal ? [internalOnlyPlugin(name, options.internalSources)] : [],
  };
}

function internalOnlyPlugin(routeName: string, internalSources: string[]): KongPlugin {
  return {
    id: deterministicUuid(`ip-restriction:${routeName}`),
    name: "ip-restriction",
    config: { allow: ["127.0.0.1", ...internalSources], status: 403, message: "internal route" },
    tags: [managedTag],
  };
}

/** A UUID (version 5 layout) derived from `seed`, stable across renders. */
export function deterministicUuid(seed: string): string {
  const hex = createHash("sha1").update(`${managedTag}:${seed}`).digest("hex");
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Kong's declarative format 3.0, routes and plugins nested under their service. */
export function renderDeclarativeConfig(services: KongService[]): string {
  return stringify({ _format_version: "3.0", services }, { lineWidth: 0 });
}

export interface AdminRequest {
  method: "PUT";
  path: string;
  body: Record<string, unknown>;
}

/**
 * PUT-by-name upserts in dependency order (service, then its routes, then their plugins): a
 * second run replaces each entity with itself, where the seed's POSTs failed with 409.
 */
export function adminRequests(services: KongService[]): AdminRequest[] {
  return services.flatMap(({ routes, ...service }) => [
    { method: "PUT" as const, path: `/services/${service.name}`, body: service },
    ...routes.flatMap(({ plugins, ...route }) => [
      { method: "PUT" as const, path: `/routes/${route.name}`, body: { ...route, service: { name: service.name } } },
      ...plugins.map(({ id, ...plugin }) => ({
        method: "PUT" as const,
        path: `/plugins/${id}`,
        body: { ...plugin, route: { name: route.name } },
      })),
    ]),
  ]);
}

/** One request a line, `METHOD<TAB>PATH<TAB>JSON`, for the boot script's read loop. */
export function renderAdminRequests(requests: AdminRequest[]): string {
  return requests.map((r) => `${r.method}\t${r.path}\t${JSON.stringify(r.body)}\n`).join("");
}
