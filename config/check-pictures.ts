/** The pictures bucket: the service that writes it, its location and its name. Pure. */
import type { Report } from "./field-path";
import { picturesBucketPrefix } from "./messenger";
import { bucketLocations, ParsedStackConfig } from "./schema";
import type { PicturesPlan, RegionPlan } from "./stack-config";

/** The multi-region that holds every region named with each prefix. */
const multiRegions: Record<string, (typeof bucketLocations)[number]> = { us: "US", northamerica: "US", europe: "EU", asia: "ASIA" };

export const maxBucketName = 63;

/**
 * A bucket's location: the one set at `path`, else the multi-region holding every region of the
 * stack, so the bucket stays readable when any one region is lost.
 */
export function bucketLocation(chosen: (typeof bucketLocations)[number] | undefined, regions: RegionPlan[], path: PropertyKey[], err: Report): (typeof bucketLocations)[number] | undefined {
  const derived = [...new Set(regions.map((r) => multiRegions[r.name.split("-")[0]]))];
  const location = chosen ?? (derived.length === 1 ? derived[0] : undefined);
  if (!location) err(path, `required: the regions ${regions.map((r) => r.name).join(", ")} are not all in one multi-region; allowed: ${bucketLocations.join(", ")}`);
  return location;
}

export function resolvePictures(parsed: ParsedStackConfig, regions: RegionPlan[], project: string, err: Report): PicturesPlan | undefined {
  if (!parsed.pictures) return undefined;
  const { service: serviceName, publicRead } = parsed.pictures;
  const service = parsed.services.find((s) => s.name === serviceName);
  if (!service) err(["pictures", "service"], `${JSON.stringify(serviceName)} is not a service; allowed: ${parsed.services.map((s) => s.name).join(", ")}`);
  const location = bucketLocation(parsed.pictures.location, regions, ["pictures", "location"], err);
  const bucketName = `${picturesBucketPrefix}-${parsed.prefix}-${project}`;
  if (bucketName.length > maxBucketName) err(["prefix"], `makes the bucket name "${bucketName}" (${bucketName.length} characters); Cloud Storage allows ${maxBucketName}`);
  return service && location ? { bucketName, location, service, publicRead } : undefined;
}
