/** Rolling-update policy of a regional managed instance group. Pure. */

export interface RollingUpdatePolicy {
  type: "PROACTIVE";
  minimalAction: "REPLACE";
  replacementMethod: "SUBSTITUTE";
  instanceRedistributionType: "PROACTIVE";
  maxSurgeFixed: number;
  maxUnavailableFixed: number;
  minReadySec: number;
}

/**
 * Surge one instance per zone and never take one away: GCP requires a fixed maxSurge to be 0 or
 * at least the zone count, and a stateless fleet keeps full capacity during a rollout.
 */
export function rollingUpdatePolicy(zoneCount: number, bootSec: number): RollingUpdatePolicy {
  return {
    type: "PROACTIVE",
    minimalAction: "REPLACE",
    replacementMethod: "SUBSTITUTE",
    instanceRedistributionType: "PROACTIVE",
    maxSurgeFixed: zoneCount,
    maxUnavailableFixed: 0,
    // A new instance counts as available only after its first boot could have finished (max 3600).
    minReadySec: Math.min(bootSec, 3600),
  };
}
