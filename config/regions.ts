/**
 * The Google Cloud regions this project can deploy to, with their zones.
 *
 * A static table rather than a `gcp.compute.getZones` call: config must be validated before any
 * resource is registered, offline, and the zone count drives the MIG update policy (GCP rejects a
 * fixed maxSurge that is neither 0 nor at least the number of zones). Each region keeps its slot
 * forever: the slot picks its default subnet, so adding a region never moves another's range.
 * Source: https://cloud.google.com/compute/docs/regions-zones (checked 2026-11).
 */
export interface RegionInfo {
  /** Fixed index into the subnet pool; never reuse or renumber. */
  readonly slot: number;
  readonly zones: readonly string[];
}

const abc = ["a", "b", "c"];

function region(slot: number, zoneLetters: readonly string[]): RegionInfo {
  return { slot, zones: zoneLetters };
}

const table: Record<string, RegionInfo> = {
  "us-central1": region(0, ["a", "b", "c", "f"]),
  "us-east1": region(1, ["b", "c", "d"]),
  "us-east4": region(2, abc),
  "us-east5": region(3, abc),
  "us-south1": region(4, abc),
  "us-west1": region(5, abc),
  "us-west2": region(6, abc),
  "us-west3": region(7, abc),
  "us-west4": region(8, abc),
  "northamerica-northeast1": region(9, abc),
  "northamerica-northeast2": region(10, abc),
  "southamerica-east1": region(11, abc),
  "southamerica-west1": region(12, abc),
  "europe-west1": region(13, ["b", "c", "d"]),
  "europe-west2": region(14, abc),
  "europe-west3": region(15, abc),
  "europe-west4": region(16, abc),
  "europe-west6": region(17, abc),
  "europe-west8": region(18, abc),
  "europe-west9": region(19, abc),
  "europe-north1": region(20, abc),
  "europe-central2": region(21, abc),
  "europe-southwest1": region(22, abc),
  "asia-east1": region(23, abc),
  "asia-east2": region(24, abc),
  "asia-northeast1": region(25, abc),
  "asia-northeast2": region(26, abc),
  "asia-northeast3": region(27, abc),
  "asia-south1": region(28, abc),
  "asia-south2": region(29, abc),
  "asia-southeast1": region(30, abc),
  "asia-southeast2": region(31, abc),
  "australia-southeast1": region(32, abc),
  "australia-southeast2": region(33, abc),
  "me-west1": region(34, abc),
  "me-central1": region(35, abc),
  "africa-south1": region(36, abc),
};

export const knownRegions: readonly string[] = Object.keys(table).sort();

export function regionInfo(name: string): RegionInfo | undefined {
  return Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
}

/** Full zone names of a known region, e.g. `us-east4-a`. */
export function zonesOf(name: string): string[] {
  return (regionInfo(name)?.zones ?? []).map((letter) => `${name}-${letter}`);
}

const compactWords: Record<string, string> = {
  northamerica: "na",
  southamerica: "sa",
  europe: "eu",
  asia: "as",
  australia: "au",
  africa: "af",
  northeast: "ne",
  northwest: "nw",
  southeast: "se",
  southwest: "sw",
  central: "c",
  north: "n",
  south: "s",
  east: "e",
  west: "w",
};

/**
 * A short, unique form of a region name (`northamerica-northeast1` gives `na-ne1`) for names with
 * tight limits, such as service account ids (30 characters).
 */
export function compactRegionName(name: string): string {
  return name.replace(/[a-z]+/g, (word) => compactWords[word] ?? word);
}

/**
 * The geographic prefix of a region's routes, `/api/<geo>/<direction>`: `us-east4` gives
 * `/api/us/east`, `europe-west1` gives `/api/europe/west`.
 */
export function defaultRoutePrefix(name: string): string {
  const match = /^([a-z]+)-([a-z]+)\d+$/.exec(name);
  return match ? `/api/${match[1]}/${match[2]}` : "";
}
