/** The VMs' machine types against the image and Kong's package. Pure. */
import type { Report } from "./field-path";
import type { ParsedStackConfig } from "./schema";
import type { TopologyRules } from "./topology-rules";

/** Machine types of Google's Arm (Ampere, Axion) series: the image and Kong's package are amd64. */
const armSeries = /^(t2a|c4a|n4a)-/;

export function checkMachine(parsed: ParsedStackConfig, rules: TopologyRules, err: Report) {
  const settings: [PropertyKey[], string][] = [[["machineType"], parsed.machineType]];
  if (rules.options.includes("controlPlanes")) settings.push([["controlPlanes", "machineType"], parsed.controlPlanes.machineType]);
  if (parsed.services.some((s) => s.run.kind === "git")) settings.push([["builds", "machineType"], parsed.builds.machineType]);
  for (const [path, machineType] of settings) {
    if (armSeries.test(machineType)) {
      err(path, `"${machineType}" is an Arm machine type; the image ${parsed.image} and Kong's package are x86-64 (amd64): choose an x86 type such as e2-standard-2`);
    }
  }
}
