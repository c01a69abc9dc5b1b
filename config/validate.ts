/**
 * Turns a stack's raw config into a fully resolved `StackConfig`, or into every error at once.
 * Pure: no Pulumi, no I/O, so it runs before any resource is registered and in plain unit tests.
 * The checks of each concern are in the check-*.ts files beside it; what a topology accepts comes
 * from its own rules (components/topologies/), handed in as `topologies`.
 */
import { resolveAlerting } from "./check-alerting";
import { resolveBuilds } from "./check-builds";
import { resolveDatabase } from "./check-database";
import { checkMachine } from "./check-machine";
import { checkNames, maxLabelValue, projectIdPattern } from "./check-names";
import { checkCapacity, checkSubnets, resolveRegion } from "./check-network";
import { resolvePictures } from "./check-pictures";
import { checkServices, checkServiceValues } from "./check-services";
import { fieldPath, Report } from "./field-path";
import { checkMessengerNeeds } from "./messenger";
import { ParsedStackConfig, ServiceConfig, StackConfigSchema, topologies as topologyNames } from "./schema";
import { foreignKeyErrors, formatIssue, withoutPaths } from "./schema-errors";
import type { RegionPlan, StackConfig } from "./stack-config";
import type { TopologyCatalog, TopologyOption } from "./topology-rules";

export type ValidationResult = { ok: true; config: StackConfig } | { ok: false; errors: string[] };

/** What the Pulumi CLI knows beside this project's config. */
export interface StackContext {
  /** The stack's name: its resources' `stack` label. */
  stack?: string;
  /** Config keys of other namespaces (`gcp:region`), checked for misspellings of this project's. */
  foreignKeys?: string[];
}

/**
 * @param raw the stack's config values of this project's namespace, keys without the namespace
 * @param project the value of `gcp:project`
 * @param topologies every topology's rules
 */
export function validateStackConfig(raw: Record<string, unknown>, project: string | undefined, topologies: TopologyCatalog, context: StackContext = {}): ValidationResult {
  const errors: string[] = [];
  if (!project) errors.push("gcp:project: not set; run `pulumi config set gcp:project <project-id>`");
  else if (!projectIdPattern.test(project)) {
    errors.push(`gcp:project: ${JSON.stringify(project)} is not a project id; ids are 6 to 30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen`);
  }
  errors.push(...foreignKeyErrors(context.foreignKeys ?? []));
  if (context.stack !== undefined && context.stack.length > maxLabelValue) {
    errors.push(`stack name "${context.stack}": ${context.stack.length} characters; it is every resource's \`stack\` label, and label values allow ${maxLabelValue}`);
  }
  let parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    errors.push(...issues.flatMap((issue) => formatIssue(issue, raw)));
    // Cross-field errors too, all at once: check the rest with the bad values left out (their
    // defaults apply), unless leaving them out breaks the config further.
    parsed = StackConfigSchema.safeParse(withoutPaths(raw, issues));
    if (!parsed.success) return { ok: false, errors };
  }
  const config = resolve(parsed.data, raw, project ?? "", topologies, errors);
  return errors.length === 0 ? { ok: true, config } : { ok: false, errors: [...new Set(errors)] };
}

function resolve(parsed: ParsedStackConfig, raw: Record<string, unknown>, project: string, topologies: TopologyCatalog, errors: string[]): StackConfig {
  const err: Report = (path, message) => errors.push(`${fieldPath(path)}: ${message}`);
  const rules = topologies[parsed.topology];
  const regions = Object.entries(parsed.regions).map(([name, region]) => resolveRegion(parsed, name, region, rules, err));
  checkSubnets(parsed, regions, rules, err);
  checkServices(parsed, rules, err);
  checkServiceValues(parsed, err);
  const entryService = checkTopology(parsed, raw, regions, topologies, err);
  checkNames(parsed, regions, rules, err);
  checkMachine(parsed, rules, err);
  const database = rules.options.includes("database") ? resolveDatabase(parsed, err) : undefined;
  checkCapacity(parsed, regions, database, rules, err);
  checkMessengerNeeds(parsed, err);
  const pictures = resolvePictures(parsed, regions, project, err);
  const builds = resolveBuilds(parsed, regions, project, err);
  const alerting = resolveAlerting(parsed, rules, entryService, err);
  const { entryService: _entry, pictures: _pictures, builds: _builds, alerting: _alerting, ...rest } = parsed;
  return { ...rest, project, regions, database, entryService, pictures, builds, alerting };
}

/** "a", "a and b", "a, b and c". */
function listed(words: string[]): string {
  return words.length > 1 ? `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}` : words.join("");
}

/**
 * Settings the stack's topology does not accept are rejected, naming the topologies that do; then
 * the topology's own checks. Returns the entry service (standalone's; the first service otherwise).
 */
function checkTopology(parsed: ParsedStackConfig, raw: Record<string, unknown>, regions: RegionPlan[], topologies: TopologyCatalog, err: Report): ServiceConfig {
  const { topology } = parsed;
  const rules = topologies[topology];
  const unless = (option: TopologyOption, path: PropertyKey[]) => {
    if (rules.options.includes(option)) return;
    const accepting = topologyNames.filter((t) => topologies[t].options.includes(option));
    err(path, `applies to the ${listed(accepting)} topolog${accepting.length > 1 ? "ies" : "y"} only; this stack's topology is ${topology}`);
  };
  if (raw.database !== undefined) unless("database", ["database"]);
  if (raw.controlPlanes !== undefined) unless("controlPlanes", ["controlPlanes"]);
  if (parsed.entryService !== undefined) unless("entryService", ["entryService"]);
  Object.entries(parsed.regions).forEach(([name, r]) => r.routePrefix !== undefined && unless("regions.routePrefix", ["regions", name, "routePrefix"]));
  rules.check(parsed, regions, err);
  const entry = parsed.services.find((s) => s.name === (parsed.entryService ?? parsed.services[0]?.name));
  if (!entry) err(["entryService"], `"${parsed.entryService}" is not a service; allowed: ${parsed.services.map((s) => s.name).join(", ")}`);
  return entry ?? parsed.services[0];
}
