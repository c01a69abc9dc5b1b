/** A VM's boot script with what every VM of the stack shares: its image's Debian, Kong's package, the project, the boot budget. */
import { secretResourceName } from "../../config/naming";
import type { ServiceConfig } from "../../config/schema";
import type { StackConfig } from "../../config/stack-config";
import { kongAdminPort } from "../../config/vm-contract";
import type { KongOnVm as KongInBootScript, ServiceArtifact } from "../../startup/boot-input";
import { firstBootBudgetSec, renderStartupScript } from "../../startup/startup-script";

/** Debian codename of each supported image, for Kong's apt repository. */
const debianCodenames: Record<StackConfig["image"], string> = { "debian-cloud/debian-12": "bookworm" };

/** Kong on a VM: how it gets its configuration, and its kong.conf; the rest is the stack's. */
export type KongOnVm = Pick<KongInBootScript, "mode" | "conf" | "cluster">;

/**
 * @param role what the VM is, in logs: `gateway`, `migrator`, `kong-tier`, `service-tier`
 * @param kongUrl what `{{kong}}` in a service's environment becomes
 * @param artifacts the builder's artifacts by service (FleetContext.artifacts), for the git-built `services`
 * @param kong undefined for a VM without Kong (standalone's service tiers)
 */
export function renderVmScript(
  config: StackConfig,
  role: string,
  region: string,
  services: ServiceConfig[],
  kongUrl: string,
  artifacts: Record<string, ServiceArtifact>,
  kong?: KongOnVm,
): string {
  return renderStartupScript({
    role,
    region,
    debianCodename: debianCodenames[config.image],
    kong: kong && {
      ...kong,
      version: config.kong.version,
      packageRepository: config.kong.packageRepository,
      proxyPort: config.kong.proxyPort,
      statusPort: config.kong.statusPort,
      adminPort: kongAdminPort,
    },
    services,
    artifacts,
    kongUrl,
    project: config.project,
    bootBudgetSec: firstBootBudgetSec(config.services),
  });
}

/** The Secret Manager secrets the services read at boot (`projects/…/secrets/…`), each once. */
export function serviceSecretIds(config: StackConfig, services: ServiceConfig[]): string[] {
  return [...new Set(services.flatMap((s) => Object.values(s.secretEnv)))].map((id) => secretResourceName(config.project, id));
}
