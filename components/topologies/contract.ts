/**
 * What a topology is: its rules for validation, what it needs of the network, and how it lays out
 * its fleets. GeoApiLayer builds the rest of the stack (network, load balancer, pictures, deploy
 * check) around the layout a topology returns, and never asks which topology it was.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../config/stack-config";
import type { TopologyRules } from "../../config/topology-rules";
import type { RouteProbe } from "../deploy-check";
import type { Network, NetworkArgs } from "../network";
import type { SharedTierArgs } from "../regional-tier";
import type { ArtifactReads } from "../vm";
import type { ServiceArtifact } from "../../startup/boot-input";

/** A port and path that answer 200 when a VM can serve. */
export interface HealthCheckTarget {
  port: number;
  path: string;
}

export interface FleetContext {
  /** The stack component's name: fleet resources are named `${name}-…`. */
  name: string;
  /** The stack component, every fleet resource's parent. */
  parent: pulumi.Resource;
  config: StackConfig;
  network: Network;
  /** The global load balancer's address, reserved before the fleets: Kong trusts X-Forwarded-For up to it. */
  loadBalancerAddress: pulumi.Output<string>;
  /**
   * The builder's artifact of each git-built service, by name: known once every build is stored,
   * so a template that names one waits for the builds (components/service-builds.ts).
   */
  artifacts: pulumi.Output<Record<string, ServiceArtifact>>;
  /** What VMs running `services` may read of the builds bucket; undefined when none is git-built. */
  artifactReads(services: string[]): ArtifactReads | undefined;
  /** What every tier of the stack shares but its labels. */
  tier: Omit<SharedTierArgs, "labels">;
}

/** Something the deploy check waits for, and the id whose change makes it run again. */
export interface Rollout {
  resource: pulumi.Resource;
  id: pulumi.Output<string>;
}

export interface FleetLayout {
  /** The global load balancer's backends (an instance group per region), their named port and check. */
  loadBalancer: { backends: Record<string, pulumi.Output<string>>; portName: string; healthCheck: HealthCheckTarget };
  /** Managed instance group names by region. */
  groups: Record<string, pulumi.Output<string>[]>;
  /** What the deploy check probes through the load balancer, and the rollouts it waits for. */
  deployCheck: { probes: RouteProbe[]; rollouts: Rollout[] };
  /** Service accounts of the VMs that run the service storing pictures. */
  pictureWriters: pulumi.Output<string>[];
  /** Kong's Cloud SQL instance and its password's secret, where the topology has them. */
  database?: DatabaseOutputs;
}

/** Kong's Cloud SQL as the rest of the stack sees it. */
export interface DatabaseOutputs {
  connectionName: pulumi.Output<string>;
  passwordSecret: pulumi.Output<string>;
  /** Every instance's name, the primary first. */
  instances: pulumi.Output<string>[];
}

/** What the topology's VMs need of the network: the ports the firewall opens, proxy-only subnets. */
export type NetworkNeeds = Pick<NetworkArgs, "loadBalancerPorts" | "internalPorts" | "proxySubnets">;

export interface TopologyDefinition {
  rules: TopologyRules;
  network(config: StackConfig): NetworkNeeds;
  /** Registers the topology's fleets under `context.parent`. */
  build(context: FleetContext): FleetLayout;
}
