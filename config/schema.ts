/**
 * The one configuration model of a stack: every field, its default and the rule that guards it.
 * Defaults live here so components receive fully resolved values and carry no fallback code.
 */
import { z } from "zod";

const resourceName = z
  .string()
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, "lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen");

/** Kong's route and path syntax is richer; we accept plain prefixes so routes can be compared for overlap. */
const routePath = z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, "a path prefix starting with / (letters, digits, . _ ~ - /)");

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name (A-Z, 0-9, _)");

const secretId = z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, "a Secret Manager secret id in this project");

const debianPackage = z.string().regex(/^[a-z0-9][a-z0-9.+-]+$/, "a Debian package name");

export const RouteSchema = z.strictObject({
  /** Kong route name, unique across the stack. */
  name: resourceName,
  paths: z.array(routePath).min(1),
  /** @default all methods */
  methods: z.array(z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])).min(1).optional(),
  /** @default false - the messenger's services expect the full path */
  stripPath: z.boolean().default(false),
  /**
   * Served to callers on the VM and inside the VPC only (an ip-restriction plugin denies the load
   * balancer's proxies), like the seed's `/upload` that Messaging calls through its local Kong.
   * @default false
   */
  internal: z.boolean().default(false),
});

const ContainerRunSchema = z.strictObject({
  kind: z.literal("container"),
  /** Image reference; pin by digest (`@sha256:…`) so every VM of a template runs the same bits. */
  image: z.string().regex(/^[a-z0-9][a-z0-9./_:@-]+$/, "a container image reference"),
  args: z.array(z.string()).default([]),
});

/** Cloud Storage's multi-regions and predefined dual-regions: a bucket that survives a region's loss. */
export const bucketLocations = ["US", "EU", "ASIA", "NAM4", "EUR4", "EUR5", "EUR7", "EUR8", "ASIA1"] as const;

/** A path inside the checkout, relative to `run.directory`, that stays inside it. */
const relativePath = z
  .string()
  .regex(/^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]+$/, "a path relative to run.directory (letters, digits, . _ - /; no leading / and no ..)");

/** The build, run once per stack by the builder VM (components/service-builds.ts), never on a fleet VM. */
const BuildSchema = z.strictObject(
  {
    /** Run in `directory` of the checkout, e.g. `mvn --batch-mode package -DskipTests`. */
    command: z.string().min(1),
    /** Debian packages the build needs, besides git: e.g. openjdk-17-jdk-headless, maven. */
    packages: z.array(debianPackage).default([]),
    /**
     * What the build produces that the service runs (files or directories relative to `directory`),
     * e.g. `target/app.jar`: the artifact holds these, at these paths, and nothing else.
     */
    artifacts: z.array(relativePath).min(1, "at least one file the build produces, such as target/app.jar"),
  },
  {
    error: (issue) =>
      typeof issue.input === "string"
        ? "is now an object: { command, packages, artifacts }. Services are built once, by the stack's builder: move the build command to build.command, the packages only the build needs (a JDK, Maven) from run.packages to build.packages, and list in build.artifacts what the command runs (e.g. target/app.jar); run.packages keeps what the service needs to run (a JRE)"
        : undefined,
  },
);

const GitRunSchema = z.strictObject({
  kind: z.literal("git"),
  repository: z.string().regex(/^https:\/\/[^\s'"]+$/, "an https:// git URL"),
  /** A tag or commit: a branch moves, and two VMs of one template would run different code. */
  ref: z.string().regex(/^[A-Za-z0-9._/-]+$/, "a git tag or commit"),
  /** Directory of the checkout the build starts in; the artifacts' paths and the command's working directory are relative to it. @default "." */
  directory: z.string().regex(/^[A-Za-z0-9._/-]+$/).default("."),
  build: BuildSchema,
  /** Debian packages the service needs to run on each VM, e.g. openjdk-17-jre-headless (no JDK, no Maven). */
  packages: z.array(debianPackage).default([]),
  /** Run in the unpacked artifact, from where `directory` was: `java -jar target/app.jar`. */
  command: z.string().min(1),
});

export const ServiceSchema = z.strictObject({
  name: resourceName.max(30),
  /** Port the service listens on; Kong reaches it on loopback. */
  port: z.number().int().min(1024).max(65535),
  /** Path that answers 2xx when the service is ready; the boot waits for it. */
  healthPath: routePath,
  /**
   * `{{kong}}` in a value becomes the URL of this region's Kong: `http://127.0.0.1:<proxyPort>` on
   * a VM with Kong, the regional Kong tier's address and route prefix in standalone.
   */
  env: z.record(envName, z.string()).default({}),
  /** Environment variables read from Secret Manager at boot: variable name to secret id. */
  secretEnv: z.record(envName, secretId).default({}),
  routes: z.array(RouteSchema).min(1),
  run: z.discriminatedUnion("kind", [ContainerRunSchema, GitRunSchema]),
});

const AutoscalingSchema = z.strictObject({
  minReplicas: z.number().int().min(1),
  maxReplicas: z.number().int().min(1),
  /** @default 0.6 - headroom to absorb a lost region's traffic */
  cpuTarget: z.number().gt(0).lt(1).default(0.6),
});

export const RegionSchema = z.strictObject({
  /** @default every zone of the region */
  zones: z.array(z.string()).min(1).optional(),
  /** Instances in the group. @default the number of zones */
  size: z.number().int().min(1).optional(),
  /** Replaces `size` with an autoscaler. */
  autoscaling: AutoscalingSchema.optional(),
  /** @default the region's fixed slot in `network.subnetPool` */
  subnetCidr: z.string().optional(),
  /** standalone only: prefix of this region's routes. @default `/api/<geo>/<direction>` from the region name */
  routePrefix: z.string().regex(/^(\/[a-z0-9-]+)+$/, "a path such as /api/us/east").optional(),
});

/** Cloud Monitoring's uptime checker regions (UptimeCheckRegion of the Monitoring API v3). */
export const uptimeCheckRegions = ["USA", "EUROPE", "SOUTH_AMERICA", "ASIA_PACIFIC", "USA_OREGON", "USA_IOWA", "USA_VIRGINIA"] as const;

/** Every topology; each has its file in components/topologies/ and its entry in catalog.ts there. */
export const topologies = ["sidecar", "shared-db", "standalone", "dbless", "hybrid"] as const;

/** The machine type pattern every VM setting shares. */
const machineType = z.string().regex(/^[a-z0-9]+-[a-z0-9-]+$/, "a machine type such as e2-standard-2");

const cidrText = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "an IPv4 CIDR such as 10.0.0.0/12");

export const StackConfigSchema = z.strictObject({
  /** Prefix of every explicit resource name. @default "geo" */
  prefix: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,9}$/, "1 to 10 lowercase letters and digits, starting with a letter")
    .default("geo"),
  /**
   * How Kong and the services are laid out; each topology is described, with the options it
   * accepts, in its own file, components/topologies/<name>.ts (README, Topologies). @default "shared-db"
   */
  topology: z.enum(topologies).default("shared-db"),
  /** standalone only: the user-facing service the global load balancer fronts. @default the first service */
  entryService: z.string().optional(),
  /** Keyed by GCP region name, so adding a region never renames another region's resources. */
  regions: z.record(z.string(), RegionSchema).refine((r) => Object.keys(r).length > 0, "at least one region"),
  /** @default "e2-standard-2" */
  machineType: machineType.default("e2-standard-2"),
  /** Boot image; must support Shielded VM. @default "debian-cloud/debian-12" */
  image: z.enum(["debian-cloud/debian-12"]).default("debian-cloud/debian-12"),
  /** @default 20 */
  bootDiskSizeGb: z.number().int().min(10).max(1000).default(20),
  kong: z
    .strictObject({
      /** Kong OSS ends at 3.9.x; later versions are Enterprise-only. @default "3.9.1" */
      version: z.string().regex(/^3\.9\.\d+$/, "an open-source Kong 3.9.x release such as 3.9.1").default("3.9.1"),
      /** @default 8000 */
      proxyPort: z.number().int().min(1024).max(65535).default(8000),
      /** Kong's status listener, on loopback: the boot script's readiness checks. @default 8100 */
      statusPort: z.number().int().min(1024).max(65535).default(8100),
      /** @default "128m" */
      memCacheSize: z.string().regex(/^\d+[km]$/, "a size such as 128m").default("128m"),
      /** Where VMs install Kong from: a mirror of Kong's repository, signed by its own key. @default Kong's */
      packageRepository: z
        .strictObject({
          /** @default "https://packages.konghq.com/public/gateway-39" */
          url: z.url({ protocol: /^https$/ }).default("https://packages.konghq.com/public/gateway-39"),
          /** The signing key's fingerprint or long id (16 hex digits). @default Kong's key B9DCD032B1696A89 */
          keyFingerprint: z
            .string()
            .regex(/^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})$/, "a key fingerprint (40 hex digits) or long key id (16 hex digits)")
            .default("B9DCD032B1696A89"),
        })
        .prefault({}),
    })
    .prefault({}),
  services: z.array(ServiceSchema).min(1),
  database: z
    .strictObject({
      /**
       * Where Kong's database lives: the primary's region first, then each cross-region replica's
       * (Kong does not read them). A failover removes the lost primary's region from the front:
       * the next region's replica is promoted in place (README, Runbooks: "The database's region is lost").
       * @default [the first region]
       */
      regions: z.array(z.string()).min(1, "at least the primary's region").optional(),
      /** @default "POSTGRES_16" */
      version: z.enum(["POSTGRES_13", "POSTGRES_14", "POSTGRES_15", "POSTGRES_16", "POSTGRES_17"]).default("POSTGRES_16"),
      /** @default "ENTERPRISE" - POSTGRES_16+ would otherwise pick ENTERPRISE_PLUS, which rejects db-custom tiers */
      edition: z.enum(["ENTERPRISE", "ENTERPRISE_PLUS"]).default("ENTERPRISE"),
      /** @default "db-custom-2-7680" */
      tier: z.string().default("db-custom-2-7680"),
      /** A standby in a second zone (`availabilityType: REGIONAL`), on the primary and every replica, so a promoted replica is HA at once. @default true */
      highAvailability: z.boolean().default(true),
      /** @default 20 */
      diskSizeGb: z.number().int().min(10).max(65536).default(20),
      /** UTC "HH:MM" start of the daily backup. @default "03:00" */
      backupStartTime: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "UTC time as HH:MM").default("03:00"),
      /** @default true */
      deletionProtection: z.boolean().default(true),
    })
    .prefault({}),
  /** hybrid only: Kong's control planes, a group in the database's primary region. */
  controlPlanes: z
    .strictObject({
      /** VMs of the group, spread over the region's zones; two, so one zone's loss keeps one. @default 2 */
      size: z.number().int().min(2, "at least 2, in two zones: one control plane is a single point of failure for changes").max(10).default(2),
      /** They run Kong alone: no service, no build. @default "e2-medium" */
      machineType: machineType.default("e2-medium"),
    })
    .prefault({}),
  loadBalancer: z
    .strictObject({
      /** Domains for a Google-managed certificate; with any, HTTP redirects to HTTPS. @default none */
      domains: z
        .array(
          z
            .string()
            .max(253, "a DNS name of at most 253 characters")
            .regex(/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "a lowercase DNS name whose labels have at most 63 characters"),
        )
        .default([]),
      /**
       * Keeps a user on one VM: the messenger's Vaadin UI holds session state in memory.
       * @default "GENERATED_COOKIE"
       */
      sessionAffinity: z.enum(["NONE", "GENERATED_COOKIE", "CLIENT_IP"]).default("GENERATED_COOKIE"),
      /** @default 30 */
      timeoutSec: z.number().int().min(1).max(86400).default(30),
      /** Share of requests the load balancer logs: every request at 1, costly at volume. @default 0.1 */
      logSampleRate: z.number().min(0).max(1).default(0.1),
    })
    .prefault({}),
  /** The bucket Attachments stores pictures in; its service's VMs may write to it. @default none */
  pictures: z
    .strictObject({
      /** The service that stores pictures. @default "attachments" */
      service: z.string().default("attachments"),
      /** Anyone may read the pictures, as the public URLs Attachments returns need. @default false */
      publicRead: z.boolean().default(false),
      /** Multi-region or predefined dual-region. @default the multi-region of the stack's regions */
      location: z.enum(bucketLocations).optional(),
    })
    .optional(),
  network: z
    .strictObject({
      /** Pool the regions' default /20 subnets are cut from, by their fixed slot. @default "10.0.0.0/12" */
      subnetPool: cidrText.default("10.0.0.0/12"),
      /** Range peered to Google's service producer network for Cloud SQL. @default "10.64.0.0/16" */
      privateServicesRange: cidrText.default("10.64.0.0/16"),
      /**
       * standalone: pool each region's proxy-only subnet (/24, by the region's slot) is cut from, for
       * the entry tier's internal Application Load Balancer. @default "10.72.0.0/16"
       */
      proxySubnetPool: cidrText.default("10.72.0.0/16"),
      /** VPC flow logs of every subnet; off, or sampled, without metadata, to keep them cheap. */
      flowLogs: z
        .strictObject({
          /** @default true */
          enabled: z.boolean().default(true),
          /** Share of flows logged. @default 0.1 */
          sampling: z.number().gt(0).max(1).default(0.1),
          /** @default "EXCLUDE_ALL_METADATA" */
          metadata: z.enum(["EXCLUDE_ALL_METADATA", "INCLUDE_ALL_METADATA"]).default("EXCLUDE_ALL_METADATA"),
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * The builder of the git-built services (components/service-builds.ts): a one-shot VM that builds
   * each once and stores the artifact in the stack's bucket, from which every VM downloads it.
   */
  builds: z
    .strictObject({
      /** Multi-region or predefined dual-region: VMs in any region download during a region's loss. @default the multi-region of the stack's regions */
      location: z.enum(bucketLocations).optional(),
      /** @default "e2-standard-2" - Vaadin's front-end build and Maven need its 8 GB */
      machineType: machineType.default("e2-standard-2"),
      /** `pulumi up` fails when the builds are not stored by then. @default 2400 */
      timeoutSec: z.number().int().min(300).max(7200).default(2400),
    })
    .prefault({}),
  /**
   * Uptime checks, alert policies and a dashboard over the stack (components/stack-alerting.ts);
   * each policy's text is its README runbook.
   */
  alerting: z
    .strictObject({
      /** @default true */
      enabled: z.boolean().default(true),
      /** Where the policies notify, an e-mail channel each. @default none: the policies exist, notifying no one (the plan says so) */
      emails: z.array(z.email("an e-mail address such as oncall@example.com")).default([]),
      /**
       * Google's checker regions the uptime check runs from; at least 3, as Google requires
       * checkers in 3 locations and some regions are one. @default every region
       */
      uptimeRegions: z.array(z.enum(uptimeCheckRegions)).min(3, "at least 3 regions: Google requires checkers in at least 3 locations, and some regions have one").optional(),
      /** What the uptime check requests: a path a public route sends through Kong to a service. @default the health path of the first service a public GET route serves */
      uptimePath: routePath.optional(),
      /** Share of 5xx answers through the load balancer above which a policy fires, in all and per region. @default 0.05 */
      errorRatio: z.number().gt(0).lt(1).default(0.05),
      /** Seconds a cross-region replica may lag: what a promotion of it would lose. @default 60 */
      replicaLagSec: z.number().int().min(1).max(3600).default(60),
    })
    .prefault({}),
  deployCheck: z
    .strictObject({
      /** Wait at the end of `pulumi up` until the load balancer serves every public route. @default true */
      enabled: z.boolean().default(true),
      /** @default 1800 - a new global load balancer takes minutes to program, first boots take more */
      timeoutSec: z.number().int().min(60).max(7200).default(1800),
    })
    .prefault({}),
});

export type StackConfigInput = z.input<typeof StackConfigSchema>;
export type ParsedStackConfig = z.output<typeof StackConfigSchema>;
export type ServiceConfig = z.output<typeof ServiceSchema>;
export type RouteConfig = z.output<typeof RouteSchema>;
export type Topology = ParsedStackConfig["topology"];
