/** The VMs of a recorded plan as the program renders them: what each one's boot script writes. */
import type { Recording } from "../../plan/record";
import { fleets, inputsOfType } from "../../plan/fleet";
import { filesWrittenBy, roleOf } from "../../startup/startup-script";

export interface RenderedVm {
  name: string;
  role: string;
  region: string;
  files: Record<string, string>;
}

/** Every group's VMs and the migrator; fails a test whose plan has fewer than three. */
export function vmsOf(recording: Recording): RenderedVm[] {
  const migrator = inputsOfType(recording.resources, "compute/instance:Instance").map((m) => ({
    name: m.name as string,
    role: roleOf(m.metadataStartupScript),
    region: String(m.zone).replace(/-[a-z]$/, ""),
    files: filesWrittenBy(m.metadataStartupScript),
  }));
  const vms = [...fleets(recording.resources).map((f) => ({ name: f.name, role: f.role, region: f.region, files: filesWrittenBy(f.script) })), ...migrator];
  if (vms.length < 3) throw new Error(`expected at least three VMs, found ${vms.length}`);
  return vms;
}
