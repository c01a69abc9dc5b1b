/** How a validation error names the setting it blames: `geo-api-layer:regions.us-east4.size`. */

/** Config key namespace, equal to the project name in Pulumi.yaml. */
export const configNamespace = "geo-api-layer";

/** Records an error on the setting at `path` (keys and indexes below the namespace). */
export type Report = (path: PropertyKey[], message: string) => void;

export function fieldPath(path: readonly PropertyKey[]): string {
  const rest = path.map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`)).join("");
  return `${configNamespace}:${rest.replace(/^\./, "")}`;
}
