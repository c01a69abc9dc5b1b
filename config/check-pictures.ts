/** The pictures bucket: the service that writes it, its location and its name. Pure. */
import type { Report } from "./field-path";
import { picturesBucketPrefix } from "./messenger";
import { bucketLocations, ParsedStackConfig } from "./schema";
import type { PicturesPlan, RegionPlan } from "./stack-config";

/** The multi-region that holds every region named with each prefix. */
const multiRegions: Record<string, (typeof bucketLocations)[number]> = { us: "US", northamerica: "US", europe: "EU", asia: "ASIA" };

const maxBucketName = 63;

export function resolvePictures(parsed: ParsedStackConfig, regions: RegionPlan[], project: string, err: Report): PicturesPlan | undefined {
  if (!parsed.pictures) return undefined;
  const { service: serviceName, publicRead } = parsed.pictures;
  const service = parsed.services.find((s) => s.name === serviceName);
  if (!service) err(["pictures", "service"], `${JSON.stringify(serviceName)} is not a service; allowed: ${parsed.services.map((s) => s.name).join(", ")}`);
  const derived = [...new Set(regions.map((r) => multiRegions[r.name.split("-")[0]]))];
  const location = parsed.pictures.location ?? (derived.length === 1 ? derived[0] : undefined);
  if (!location) {
    err(["pictures", "location"], `required: the regions ${regions.map((r) => r.name).join(", ")} are not all in one multi-region; allowed: ${bucketLocations.join(", ")}`);
  }
  const bucketName = `${picturesBucketPrefix}-${parsed.prefix}-${project}`;
  if (bucketName.length > maxBucketName) err(["prefix"], `makes the bucket name "${bucketName}" (${bucketName.length} characters); Cloud Storage allows ${maxBucketName}`);
  return service && location ? { bucketName, location, service, publicRead } : undefined;
}
