/**
 * Whether a region's subnet holds every address the stack will take in it: each group's VMs at
 * their largest (the autoscaler's maximum) plus the rolling update's surge (one per zone), the
 * internal load balancers' addresses, the migrator VM. Pure.
 */

/** Addresses Google reserves in every subnet: network, gateway, second-to-last and broadcast. */
export const reservedAddressesPerSubnet = 4;

export interface RegionDemand {
  /** Groups (tiers) in the region. */
  groups: number;
  /** VMs per group at their largest. */
  maxVms: number;
  /** Extra VMs during a rollout, per group. */
  surge: number;
  /** Internal load balancer addresses. */
  loadBalancerAddresses: number;
  /** One-shot VMs, such as the migrator. */
  otherVms: number;
}

export function addressesNeeded(d: RegionDemand): number {
  return d.groups * (d.maxVms + d.surge) + d.loadBalancerAddresses + d.otherVms;
}

export function usableAddresses(prefixLength: number): number {
  return 2 ** (32 - prefixLength) - reservedAddressesPerSubnet;
}

/** The sum spelled out, for an error message. */
export function describeDemand(d: RegionDemand): string {
  const parts = [`${d.groups} group${d.groups > 1 ? "s" : ""} × (${d.maxVms} VMs at most + ${d.surge} surging in a rollout)`];
  if (d.loadBalancerAddresses) parts.push(`${d.loadBalancerAddresses} internal load balancer addresses`);
  if (d.otherVms) parts.push(`${d.otherVms} migrator VM`);
  return parts.join(" + ");
}
