/**
 * Names of per-region resources, built in one place so validation can check GCP's limits on
 * exactly the names the components will use.
 */
import { createHash } from "crypto";
import { compactRegionName } from "./regions";

/** GCP resource names: at most 63 characters, RFC 1035. */
export const maxResourceName = 63;
/** An instance template's `namePrefix` (GCP appends a timestamp and counter). */
export const maxTemplatePrefix = 54;
/** Service account ids: 6 to 30 characters. */
export const serviceAccountIdPattern = /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/;

/**
 * A fleet of identical VMs in one region: `geo-us-east4` for a gateway fleet (Kong and every
 * service on each VM), `geo-us-east4-kong` or `geo-us-east4-attachments` for a standalone tier.
 */
export function tierName(prefix: string, region: string, tier?: string): string {
  return [prefix, region, ...(tier ? [tier] : [])].join("-");
}

/** The tier's own service account: `geo-gw-us-e4`, `geo-kong-us-e4`, `geo-us-e4-attachments`. */
export function tierAccountId(prefix: string, region: string, tier?: string): string {
  const short = compactRegionName(region);
  if (!tier) return `${prefix}-gw-${short}`;
  return tier === "kong" ? `${prefix}-kong-${short}` : `${prefix}-${short}-${tier}`;
}

/** A Secret Manager secret's resource name, as IAM grants and the Secret Manager API take it. */
export function secretResourceName(project: string, secretId: string): string {
  return `projects/${project}/secrets/${secretId}`;
}

/**
 * The project role that lets the pictures bucket's writers list buckets, before its per-creation
 * suffix (components/pictures-bucket.ts): `[a-zA-Z0-9_.]`, 3 to 64 with it.
 */
export function picturesListerRoleBase(prefix: string): string {
  return `${prefix.replace(/-/g, "_")}_pictures_lister`;
}

/** Certificate Manager names (DNS authorization, certificate, map entry): `[a-zA-Z][a-zA-Z0-9_-]*`, 1 to 64. */
export const certificateManagerNamePattern = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

/**
 * A domain's Certificate Manager resources: `geo-api-example-com-1a2b3c4d`. Dots are not allowed
 * in these names, so the domain is spelled with dashes, cut to fit, and made unique by a hash of
 * the whole domain (`api.example.com` and `api-example.com` differ).
 */
export function certificateManagerName(prefix: string, domain: string): string {
  const hash = createHash("sha256").update(domain).digest("hex").slice(0, 8);
  const room = 64 - prefix.length - hash.length - 2;
  const spelled = domain.replace(/[^a-z0-9]+/g, "-").slice(0, room).replace(/-+$/, "");
  return `${prefix}-${spelled}-${hash}`;
}
