/** Labels every labellable resource carries, so billing and policies can tell stack and component. */

/** GCP label values: at most 63 lowercase letters, digits, `_` and `-`. */
function labelValue(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_-]/g, "-").slice(0, 63);
}

export function resourceLabels(stack: string, component: string): Record<string, string> {
  return { "managed-by": "geo-api-layer", stack: labelValue(stack), component: labelValue(component) };
}
