/**
 * Reading a recorded plan: inputs by resource type, each instance group with the boot script its
 * VMs run, and the database's instances. Shared by the diagram and the outage analysis.
 */
import { roleOf } from "../startup/startup-script";
import type { RecordedResource } from "./record";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Inputs = any;

/** Inputs of every resource whose type ends with `suffix`, e.g. `InstanceTemplate`. */
export function inputsOfType(resources: RecordedResource[], suffix: string): Inputs[] {
  return resources.filter((r) => r.type.endsWith(suffix)).map((r) => r.inputs);
}

/** The one-shot VMs (instances, not groups) whose boot script names `role`: the migrator, the builder. */
export function oneShotVms(resources: RecordedResource[], role: "migrator" | "builder"): Inputs[] {
  return inputsOfType(resources, "compute/instance:Instance").filter((vm) => roleOf(vm.metadataStartupScript) === role);
}

export interface Fleet {
  name: string;
  region: string;
  /** The boot script's role: `gateway`, `kong-tier`, `service-tier`. */
  role: string;
  script: string;
  /** A backend of the global load balancer. */
  loadBalanced: boolean;
  /** The group's own inputs. */
  group: Inputs;
  /** Email of the VMs' service account. */
  serviceAccount: string;
}

/** The template a group's VMs run, by the longest name prefix: `geo-us-central1-cp-…` starts with `geo-us-central1-` too. */
export function templateOf(resources: RecordedResource[], group: Inputs): Inputs | undefined {
  const link = String(group.versions?.[0]?.instanceTemplate ?? "");
  return inputsOfType(resources, "InstanceTemplate")
    .filter((t) => link.includes(`/${t.namePrefix}`))
    .sort((a, b) => b.namePrefix.length - a.namePrefix.length)[0];
}

/** Every regional instance group, sorted by name, with its template's boot script. */
export function fleets(resources: RecordedResource[]): Fleet[] {
  const backends: string[] = inputsOfType(resources, "compute/backendService:BackendService").flatMap((b) =>
    b.backends.map((x: Inputs) => String(x.group).split("/").pop()),
  );
  return inputsOfType(resources, "RegionInstanceGroupManager")
    .map((group) => {
      const template = templateOf(resources, group);
      const script: string = template?.metadataStartupScript ?? "";
      return {
        name: group.name,
        region: group.region,
        role: roleOf(script),
        script,
        loadBalanced: backends.includes(group.name),
        group,
        serviceAccount: template?.serviceAccount?.email ?? "",
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Kong's Cloud SQL primary and cross-region replicas, where the plan has them. */
export function databaseInstances(resources: RecordedResource[]): { primary?: Inputs; replicas: Inputs[] } {
  const instances = inputsOfType(resources, "sql/databaseInstance:DatabaseInstance");
  return { primary: instances.find((d) => !d.masterInstanceName), replicas: instances.filter((d) => d.masterInstanceName) };
}
