/** The VMs of a recorded plan as the program renders them: what each one's boot script writes. */
import type { Recording } from "../../plan/record";
import { fleets, inputsOfType } from "../../plan/fleet";
import { mockKongClusterKey } from "../../plan/mock-cloud";
import { kongClusterKeyPath, kongConfValue } from "../../startup/kong-conf";
import { entitiesFromAdminRequests, renderDeclarativeConfig } from "../../startup/kong-entities";
import { fallbackConfigPath, fallbackDropIn } from "../../startup/kong-fallback";
import { filesWrittenBy, roleOf } from "../../startup/startup-script";
import { kongConfPath } from "../../startup/systemd";

export interface RenderedVm {
  name: string;
  role: string;
  region: string;
  files: Record<string, string>;
}

/** The VMs that run Kong: those whose boot script writes a kong.conf. */
export const withKong = (vms: RenderedVm[]) => vms.filter((vm) => vm.files[kongConfPath] !== undefined);

/** Every group's VMs and the migrator; fails a test whose plan has fewer than three. */
export function vmsOf(recording: Recording): RenderedVm[] {
  const migrator = inputsOfType(recording.resources, "compute/instance:Instance").map((m) => ({
    name: m.name as string,
    role: roleOf(m.metadataStartupScript),
    region: String(m.zone).replace(/-[a-z]$/, ""),
    files: filesOf(m.metadataStartupScript),
  }));
  const vms = [...fleets(recording.resources).map((f) => ({ name: f.name, role: f.role, region: f.region, files: filesOf(f.script) })), ...migrator];
  if (vms.length < 3) throw new Error(`expected at least three VMs, found ${vms.length}`);
  return vms;
}

/**
 * What a boot script writes: its heredocs, and hybrid's cluster key, which it reads from Secret
 * Manager at boot (the mock's key: plan/mock-cloud.ts).
 */
function filesOf(script: string): Record<string, string> {
  const files = filesWrittenBy(script);
  if (new RegExp(`^write_cluster_key ${kongClusterKeyPath} `, "m").test(script)) files[kongClusterKeyPath] = mockKongClusterKey;
  return files;
}

/** Kong's KONG_* overrides in the fallback drop-in, as systemd hands them to Kong. */
export function fallbackEnv(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries([...(files[fallbackDropIn] ?? fallbackDropInOf(files)).matchAll(/^Environment=(KONG_\w+)=(.*)$/gm)].map(([, k, v]) => [k, v]));
}

/** The boot script writes the drop-in with printf at boot; its lines are the same on every VM. */
function fallbackDropInOf(files: Record<string, string>): string {
  return files[fallbackConfigPath] ? `Environment=KONG_DATABASE=off\nEnvironment=KONG_DECLARATIVE_CONFIG=${fallbackConfigPath}\n` : "";
}

/**
 * The declarative configs a VM's Kong loads or its database holds, each with the environment Kong
 * reads it under: the DB-less file, the fallback file, and the entities written through the Admin API.
 */
export function declarativeConfigsOf(vm: RenderedVm): { what: string; yaml: string; env: Record<string, string> }[] {
  const conf = vm.files[kongConfPath];
  const configs = [];
  const declarativePath = kongConfValue(conf, "declarative_config");
  if (declarativePath) configs.push({ what: declarativePath, yaml: vm.files[declarativePath], env: {} });
  if (vm.files[fallbackConfigPath]) configs.push({ what: fallbackConfigPath, yaml: vm.files[fallbackConfigPath], env: fallbackEnv(vm.files) });
  const requests = vm.files["/etc/kong/admin-requests.tsv"];
  // Written through the Admin API into the database; parsed offline (database = off) as the same entities.
  if (requests) configs.push({ what: "the entities it writes through the Admin API", yaml: renderDeclarativeConfig(entitiesFromAdminRequests(requests)), env: { KONG_DATABASE: "off", KONG_ROLE: "traditional" } });
  return configs;
}
