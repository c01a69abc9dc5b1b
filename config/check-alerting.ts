/** The alerting's plan: what the uptime check requests, and its checker regions. Pure. */
import type { Report } from "./field-path";
import type { ParsedStackConfig, ServiceConfig } from "./schema";
import type { AlertingPlan, UptimeTarget } from "./stack-config";
import type { TopologyRules } from "./topology-rules";

/** Each path prefix of a public route that takes GET, with its service. */
function publicGetPrefixes(services: ServiceConfig[]): { service: ServiceConfig; prefix: string }[] {
  return services.flatMap((service) =>
    service.routes.filter((route) => !route.internal && (!route.methods || route.methods.includes("GET"))).flatMap((route) => route.paths.map((prefix) => ({ service, prefix }))),
  );
}

/** The service Kong sends a GET of `path` to: the longest matching prefix, as Kong's router prefers. */
function serviceServing(services: ServiceConfig[], path: string): ServiceConfig | undefined {
  const matching = publicGetPrefixes(services).filter(({ prefix }) => path.startsWith(prefix));
  return matching.sort((a, b) => b.prefix.length - a.prefix.length)[0]?.service;
}

function uptimeTarget(parsed: ParsedStackConfig, rules: TopologyRules, entryService: ServiceConfig, err: Report): UptimeTarget | undefined {
  const { uptimePath } = parsed.alerting;
  if (!rules.frontedByKong) {
    // The load balancer sends every path to the entry service, which has no routes of its own.
    return { path: uptimePath ?? entryService.healthPath, service: entryService.name, throughKong: false };
  }
  if (uptimePath !== undefined) {
    const serving = serviceServing(parsed.services, uptimePath);
    if (!serving) {
      const prefixes = publicGetPrefixes(parsed.services).map((p) => p.prefix);
      err(["alerting", "uptimePath"], `"${uptimePath}" is served by no public route that takes GET; allowed: a path under ${prefixes.join(", ") || "(no public GET route)"}`);
      return undefined;
    }
    return { path: uptimePath, service: serving.name, throughKong: true };
  }
  // A health path answers 2xx without a session, which an uptime check cannot hold.
  const served = parsed.services.find((s) => serviceServing(parsed.services, s.healthPath) === s);
  if (!served) {
    err(["alerting", "uptimePath"], "required: no service's healthPath is served by a public GET route of its own; set a path a public route sends to a service, or alerting.enabled: false");
    return undefined;
  }
  return { path: served.healthPath, service: served.name, throughKong: true };
}

export function resolveAlerting(parsed: ParsedStackConfig, rules: TopologyRules, entryService: ServiceConfig, err: Report): AlertingPlan | undefined {
  const { enabled, uptimePath: _path, ...settings } = parsed.alerting;
  if (!enabled) return undefined;
  const regions = settings.uptimeRegions ?? [];
  if (regions.includes("USA") && regions.some((r) => r.startsWith("USA_"))) {
    err(["alerting", "uptimeRegions"], "USA holds USA_OREGON, USA_IOWA and USA_VIRGINIA; list either USA or those");
  }
  if (new Set(regions).size !== regions.length) err(["alerting", "uptimeRegions"], "lists a region twice");
  const uptime = uptimeTarget(parsed, rules, entryService, err);
  return uptime && { ...settings, uptime };
}
