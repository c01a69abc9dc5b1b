/** The VMs' machine type against the image and Kong's package. Pure. */
import type { Report } from "./field-path";
import type { ParsedStackConfig } from "./schema";

/** Machine types of Google's Arm (Ampere, Axion) series: the image and Kong's package are amd64. */
const armSeries = /^(t2a|c4a|n4a)-/;

export function checkMachine(parsed: ParsedStackConfig, err: Report) {
  if (armSeries.test(parsed.machineType)) {
    err(["machineType"], `"${parsed.machineType}" is an Arm machine type; the image ${parsed.image} and Kong's package are x86-64 (amd64): choose an x86 type such as e2-standard-2`);
  }
}
