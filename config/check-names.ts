/** The names GCP will be given, against its length and character rules: project, stack label, each tier's. Pure. */
import type { Report } from "./field-path";
import { maxResourceName, maxTemplatePrefix, serviceAccountIdPattern, tierAccountId, tierName } from "./naming";
import type { ParsedStackConfig } from "./schema";
import type { RegionPlan } from "./stack-config";
import type { TopologyRules } from "./topology-rules";

/** Google's project ids: 6 to 30 lowercase letters, digits and hyphens, starting with a letter. */
export const projectIdPattern = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

export const maxLabelValue = 63;

/** Every per-region name the components will build, against GCP's length and character rules. */
export function checkNames(parsed: ParsedStackConfig, regions: RegionPlan[], rules: TopologyRules, err: Report) {
  const tiers = rules.tiers(parsed);
  for (const region of regions) {
    for (const { tier, path } of tiers) {
      const name = tierName(parsed.prefix, region.name, tier);
      const longest = `${name}-autoheal`;
      if (longest.length > maxResourceName) err(path, `makes the name "${longest}" (${longest.length} characters); GCP allows ${maxResourceName}`);
      if (`${name}-`.length > maxTemplatePrefix) err(path, `makes the template prefix "${name}-" longer than ${maxTemplatePrefix} characters`);
      const account = tierAccountId(parsed.prefix, region.name, tier);
      if (!serviceAccountIdPattern.test(account)) {
        err(path, `makes the service account id "${account}"; ids are 6 to 30 lowercase letters, digits and hyphens`);
      }
    }
  }
}
