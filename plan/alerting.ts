/**
 * The alerting in a recorded plan, as `npm run plan` prints it: the uptime check, each policy with
 * its conditions, and where the policies notify (or that they notify no one).
 */
import { inputsOfType } from "./fleet";
import type { RecordedResource } from "./record";

export function renderAlerting(resources: RecordedResource[]): string {
  const policies = inputsOfType(resources, "monitoring/alertPolicy:AlertPolicy");
  if (!policies.length) return "Alerting: none (alerting.enabled is false)\n";
  const channels = inputsOfType(resources, "monitoring/notificationChannel:NotificationChannel");
  const lines = inputsOfType(resources, "monitoring/uptimeCheckConfig:UptimeCheckConfig").map((check) => {
    const { httpCheck: http, monitoredResource: target } = check;
    const from = check.selectedRegions ? check.selectedRegions.join(", ") : "every checker region";
    return `  uptime check: GET ${http.useSsl ? "https" : "http"}://${target.labels.host}${http.path} every ${check.period}, from ${from}`;
  });
  for (const policy of policies) {
    lines.push(`  ${policy.displayName} (${policy.severity})`);
    for (const condition of policy.conditions) lines.push(`    - ${condition.displayName}`);
  }
  const notify = channels.length
    ? `notifying ${channels.map((c) => c.labels.email_address).join(", ")}`
    : "notifying no one: no alerting.emails, so incidents open in Cloud Monitoring without a notification";
  return `Alerting: ${policies.length} policies, ${notify}\n${lines.join("\n")}\n`;
}
