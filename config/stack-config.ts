/** The resolved shape of a stack's config, which every layer above validation reads. */
import type { bucketLocations, ParsedStackConfig, ServiceConfig } from "./schema";

export interface RegionPlan {
  readonly name: string;
  /** Short form for names with tight limits (`us-c1`). */
  readonly shortName: string;
  readonly zones: string[];
  /** Fixed group size; undefined when an autoscaler sizes the group. */
  readonly size?: number;
  readonly autoscaling?: { minReplicas: number; maxReplicas: number; cpuTarget: number };
  readonly subnetCidr: string;
  /** standalone: the proxy-only subnet of the entry tier's internal Application Load Balancer. */
  readonly proxySubnetCidr?: string;
  /** Prefix of this region's routes in standalone, e.g. `/api/us/east`. */
  readonly routePrefix: string;
}

/** Where one Cloud SQL instance of Kong's database runs. */
export interface DatabasePlacement {
  readonly region: string;
  readonly zone: string;
  /** Zone of the HA standby. */
  readonly secondaryZone: string;
}

export interface DatabasePlan extends Omit<ParsedStackConfig["database"], "regions">, DatabasePlacement {
  /** Cross-region replicas of the primary, in the order configured. */
  readonly replicas: DatabasePlacement[];
}

export interface PicturesPlan {
  /** Starts with the prefix Attachments looks for; unique by project. */
  readonly bucketName: string;
  readonly location: (typeof bucketLocations)[number];
  /** The service whose VMs write pictures. */
  readonly service: ServiceConfig;
  readonly publicRead: boolean;
}

/** One build of the builder: the inputs its artifact's name is derived from, and who runs it. */
export interface ServiceBuild {
  /** Derived from the inputs (config/check-builds.ts buildKey); names its objects in the bucket. */
  readonly key: string;
  readonly repository: string;
  readonly ref: string;
  readonly directory: string;
  readonly command: string;
  /** Sorted, each once. */
  readonly packages: string[];
  readonly artifacts: string[];
  /** The services that run this artifact (several when their builds are the same). */
  readonly services: string[];
}

export interface BuildsPlan {
  /** Does not start with "pictures", which Attachments would take for its own. */
  readonly bucketName: string;
  readonly location: (typeof bucketLocations)[number];
  readonly machineType: string;
  readonly timeoutSec: number;
  readonly builds: ServiceBuild[];
}

/** What the uptime check requests through the load balancer. */
export interface UptimeTarget {
  readonly path: string;
  /** The service that answers it. */
  readonly service: string;
  /** Through Kong (false: standalone's entry service, which the load balancer fronts directly). */
  readonly throughKong: boolean;
}

export interface AlertingPlan extends Omit<ParsedStackConfig["alerting"], "enabled" | "uptimePath"> {
  readonly uptime: UptimeTarget;
}

export interface StackConfig extends Omit<ParsedStackConfig, "regions" | "database" | "entryService" | "pictures" | "builds" | "alerting"> {
  /** The GCP project (`gcp:project`). */
  readonly project: string;
  readonly regions: RegionPlan[];
  /** Kong's Cloud SQL; undefined where the topology's rules do not accept `database`. */
  readonly database?: DatabasePlan;
  /** standalone: the service the global load balancer fronts. */
  readonly entryService: ServiceConfig;
  /** The pictures bucket; undefined when no service stores pictures. */
  readonly pictures?: PicturesPlan;
  /** The builder and its bucket; undefined when no service is built from git. */
  readonly builds?: BuildsPlan;
  /** Uptime check, alert policies and dashboard; undefined with `alerting.enabled: false`. */
  readonly alerting?: AlertingPlan;
}
