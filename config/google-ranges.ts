/** Address ranges Google's own services connect from (GCP docs); fixed, so no provider call is needed. */

/** Global external Application Load Balancer proxies and health checkers. */
export const googleFrontEndRanges: readonly string[] = ["35.191.0.0/16", "130.211.0.0/22"];

/** Identity-Aware Proxy TCP forwarding: the only SSH path to VMs without external addresses. */
export const iapRange = "35.235.240.0/20";
