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

/** Kong's entities for a node: services with their routes, and routes that need no service. */
export interface KongEntities {
  services: KongService[];
  /** Answered by a plugin on Kong itself: the health route. */
  routes: KongRoute[];
}

/**
 * The path health checks probe on Kong's proxy port. Kong's `/status` and `/status/ready` connect to
 * the database on every request (kong/api/routes/health.lua, kong/status/ready.lua at 3.9.1), so a
 * check on them fails on every node of every region when the shared database's region goes dark.
 * This route is answered by Kong's bundled request-termination plugin from the node's router and
 * plugins iterator, which touch no database; it answers only once the node's routes are loaded
 * (a router built with zero routes would make `/status/ready` pass before any route exists).
 */
export const kongHealthPath = "/geo-api-layer/health";
const kongHealthRouteName = "geo-api-layer-health";

function kongHealthRoute(): KongRoute {
  return {
    name: kongHealthRouteName,
    paths: [kongHealthPath],
    methods: ["GET", "HEAD"],
    protocols: ["http", "https"],
    strip_path: false,
    preserve_host: false,
    tags: [managedTag],
    plugins: [
      {
        id: deterministicUuid(`request-termination:${kongHealthRouteName}`),
        name: "request-termination",
        config: { status_code: 200, message: "serving" },
        tags: [managedTag],
      },
    ],
  };
}

export interface KongEntityOptions {
  /** Address ranges allowed on internal routes besides loopback: the VPC's subnets. */
  internalSources: string[];
}

/** Kong and the services on the same VM: each service on loopback, its routes as configured. */
export function kongEntities(services: ServiceConfig[], options: KongEntityOptions): KongEntities {
  return {
    services: services.map((service) => ({
      name: service.name,
      url: `http://127.0.0.1:${service.port}`,
      tags: [managedTag],
      routes: service.routes.map((route) => kongRoute(route.name, route.paths, route, options)),
    })),
    routes: [kongHealthRoute()],
  };
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
export function regionalKongEntities(services: ServiceConfig[], regions: RegionalEndpoints[], options: KongEntityOptions): KongEntities {
  const regional = regions.flatMap((region) =>
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
  return { services: regional, routes: [kongHealthRoute()] };
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
export function renderDeclarativeConfig(entities: KongEntities): string {
  return stringify({ _format_version: "3.0", services: entities.services, routes: entities.routes }, { lineWidth: 0 });
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
export function adminRequests(entities: KongEntities): AdminRequest[] {
  const routeRequests = (routes: KongRoute[], service?: string): AdminRequest[] =>
    routes.flatMap(({ plugins, ...route }) => [
      { method: "PUT" as const, path: `/routes/${route.name}`, body: service ? { ...route, service: { name: service } } : route },
      ...plugins.map(({ id, ...plugin }) => ({
        method: "PUT" as const,
        path: `/plugins/${id}`,
        body: { ...plugin, route: { name: route.name } },
      })),
    ]);
  return [
    ...entities.services.flatMap(({ routes, ...service }) => [
      { method: "PUT" as const, path: `/services/${service.name}`, body: service },
      ...routeRequests(routes, service.name),
    ]),
    ...routeRequests(entities.routes),
  ];
}

/** One request a line, `METHOD<TAB>PATH<TAB>JSON`, for the boot script's read loop. */
export function renderAdminRequests(requests: AdminRequest[]): string {
  return requests.map((r) => `${r.method}\t${r.path}\t${JSON.stringify(r.body)}\n`).join("");
}

/**
 * The entities a rendered request list writes: the inverse of renderAdminRequests(adminRequests()),
 * so what the migrator and the sidecar write can be judged as a declarative config.
 */
export function entitiesFromAdminRequests(rendered: string): KongEntities {
  const requests = rendered
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [, path, body] = line.split("\t");
      return { path, body: JSON.parse(body) };
    });
  const of = (kind: string) => requests.filter((r) => r.path.startsWith(`/${kind}/`));
  // A plugin's id is its path's last segment; its route, the route it nests under.
  const plugins = of("plugins").map(({ path, body: { route, ...plugin } }) => ({ id: path.slice("/plugins/".length), route: route?.name, ...plugin }));
  const route = ({ service: _service, ...body }: Record<string, unknown>): KongRoute =>
    ({ ...body, plugins: plugins.filter((p) => p.route === body.name).map(({ route: _route, ...p }) => p) }) as KongRoute;
  const routes = of("routes").map((r) => r.body);
  return {
    services: of("services").map(({ body: service }) => ({ ...service, routes: routes.filter((r) => r.service?.name === service.name).map(route) })),
    routes: routes.filter((r) => r.service === undefined).map(route),
  };
}
