/** What a VM's boot script is rendered from (startup/startup-script.ts). */
import type { ServiceConfig } from "../config/schema";

/** How Kong on this VM gets its configuration. */
export type KongMode =
  /**
   * Kong on the shared Cloud SQL; waits until the migrator has brought the schema up to date. With
   * `fallbackConfig` (the same entities as a declarative config), a VM whose database does not
   * answer at boot starts DB-less from it, and goes back onto the database once it answers.
   */
  | { kind: "shared-db"; passwordSecret: string; databaseCa: string; fallbackConfig?: string }
  /** The one VM that migrates the shared database and writes Kong's entities into it, then powers off. */
  | { kind: "migrator"; passwordSecret: string; databaseCa: string; adminRequests: string }
  /** Kong with its own PostgreSQL on the VM (sidecar): migrates and writes its entities itself. */
  | { kind: "local-db"; adminRequests: string }
  /** Kong without a database, from a declarative config file. */
  | { kind: "dbless"; declarativeConfig: string }
  /**
   * Hybrid's control plane: Kong on the shared Cloud SQL once the migrator has brought the schema
   * up to date, serving the configuration to data planes; no proxy, no services.
   */
  | { kind: "control-plane"; passwordSecret: string; databaseCa: string }
  /**
   * Hybrid's data plane: no database; the configuration the control planes push, kept in LMDB, or
   * on a disk that has none yet, `fallbackConfig` (the stack's entities as a declarative config).
   */
  | { kind: "data-plane"; fallbackConfig: string };

/** Hybrid mode's shared certificate: the PEM itself, and the secret that holds its key. */
export interface KongClusterFiles {
  certificate: string;
  /** `projects/…/secrets/…` */
  keySecret: string;
}

/** An apt repository of Kong's packages and the key that signs it. */
export interface KongPackageRepository {
  /** The repository's root, e.g. `https://packages.konghq.com/public/gateway-39`. */
  url: string;
  /** The signing key's fingerprint, or its long (16-hex) id, which the fingerprint ends with. */
  keyFingerprint: string;
}

export interface KongOnVm {
  mode: KongMode;
  /** Hybrid's control planes, data planes and its migrator (a control plane, so its writes reach the data planes). */
  cluster?: KongClusterFiles;
  version: string;
  packageRepository: KongPackageRepository;
  conf: string;
  proxyPort: number;
  statusPort: number;
  adminPort: number;
}

/** A git-built service's artifact: one generation of one object of the builds bucket, and its checksum. */
export interface ServiceArtifact {
  bucket: string;
  object: string;
  generation: string;
  sha256: string;
}

export interface StartupScriptInput {
  /** What the VM is, in logs: `gateway`, `migrator`, `kong-tier`, `service-tier`. */
  role: string;
  region: string;
  /** Debian codename of the image, for Kong's apt repository. */
  debianCodename: string;
  /** Kong on this VM; undefined for a standalone service tier. */
  kong?: KongOnVm;
  services: ServiceConfig[];
  /** The artifact of each git-built service, by service name (the builder's, components/service-builds.ts). */
  artifacts: Record<string, ServiceArtifact>;
  /** What `{{kong}}` in a service's environment becomes. */
  kongUrl: string;
  /** GCP project holding the services' secrets. */
  project: string;
  /** Every wait of this boot ends by this many seconds after the script started. */
  bootBudgetSec: number;
}
