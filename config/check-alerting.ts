/** The alerting's plan: what the uptime check requests, and its checker regions. Pure. */
import type { Report } from "./field-path";
import type { ParsedStackConfig, RouteConfig, ServiceConfig } from "./schema";
import type { AlertingPlan, UptimeTarget } from "./stack-config";
import type { TopologyRules } from "./topology-rules";

/** The public route Kong matches for a GET of `path`: the longest path prefix, as Kong's router prefers. */
function routeServing(services: ServiceConfig[], path: string): { service: ServiceConfig; route: RouteConfig } | undefined {
  const candidates = services.flatMap((service) =>
    service.routes
      .filter((route) => !route.internal && (!route.methods || route.methods.includes("GET")))
      .flatMap((route) => route.paths.filter((prefix) => path.startsWith(prefix)).map((prefix) => ({ service, route, prefix }))),
  );
  return candidates.sort((a, b) => b.prefix.length - a.prefix.length)[0];
}

function uptimeTarget(parsed: ParsedStackConfig, rules: TopologyRules, err: Report): UptimeTarget | undefined {
  const { uptimePath } = parsed.alerting;
  if (!rules.frontedByKong) {
    // The load balancer sends every path to the entry service, which has no routes of its own.
    const entry = parsed.services.find((s) => s.name === (parsed.entryService ?? parsed.services[0].name)) ?? parsed.services[0];
    return { path: uptimePath ?? entry.healthPath, service: entry.name, throughKong: false };
  }
  if (uptimePath !== undefined) {
    const serving = routeServing(parsed.services, uptimePath);
    if (!serving) {
      const publicGets = parsed.services.flatMap((s) => s.routes.filter((r) => !r.internal && (!r.methods || r.methods.includes("GET"))).flatMap((r) => r.paths));
      err(["alerting", "uptimePath"], `"${uptimePath}" is served by no public route that takes GET; allowed: a path under ${publicGets.join(", ") || "(no public GET route)"}`);
      return undefined;
    }
    return { path: uptimePath, service: serving.service.name, throughKong: true };
  }
  // A health path answers 2xx without a session, which an uptime check cannot hold.
  const served = parsed.services.find((s) => routeServing(parsed.services, s.healthPath)?.service === s);
  if (!served) {
    err(["alerting", "uptimePath"], "required: no service's healthPath is served by a public GET route of its own; set a path a public route sends to a service, or alerting.enabled: false");
    return undefined;
  }
  return { path: served.healthPath, service: served.name, throughKong: true };
}

export function resolveAlerting(parsed: ParsedStackConfig, rules: TopologyRules, err: Report): AlertingPlan | undefined {
  const { enabled, uptimePath: _path, ...settings } = parsed.alerting;
  if (!enabled) return undefined;
  const regions = settings.uptimeRegions ?? [];
  if (regions.includes("USA") && regions.some((r) => r.startsWith("USA_"))) {
    err(["alerting", "uptimeRegions"], "USA holds USA_OREGON, USA_IOWA and USA_VIRGINIA; list either USA or those");
  }
  if (new Set(regions).size !== regions.length) err(["alerting", "uptimeRegions"], "lists a region twice");
  const uptime = uptimeTarget(parsed, rules, err);
  return uptime && { ...settings, uptime };
}
