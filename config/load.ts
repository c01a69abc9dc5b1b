/** Reads the stack's config from the Pulumi runtime and validates it before any resource exists. */
import * as pulumi from "@pulumi/pulumi";
import { configNamespace } from "./field-path";
import type { StackConfig } from "./stack-config";
import type { TopologyCatalog } from "./topology-rules";
import { validateStackConfig } from "./validate";

/** Config values of this project's namespace; structured values arrive as JSON text. */
export function rawStackConfig(all: Record<string, string>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(all)) {
    if (!key.startsWith(`${configNamespace}:`)) continue;
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // A plain string such as `geo`.
    }
    raw[key.slice(configNamespace.length + 1)] = value;
  }
  return raw;
}

/**
 * The validated config of the running stack. Invalid config ends the program with every error
 * listed and no stack trace (a RunError), before any resource is registered.
 * @param topologies every topology's rules (components/topologies/)
 */
export function loadStackConfig(topologies: TopologyCatalog): StackConfig {
  const all = pulumi.runtime.allConfig();
  const foreignKeys = Object.keys(all).filter((key) => !key.startsWith(`${configNamespace}:`));
  const result = validateStackConfig(rawStackConfig(all), all["gcp:project"], topologies, { stack: pulumi.getStack(), foreignKeys });
  if (!result.ok) {
    throw new pulumi.RunError(`invalid stack configuration:\n${result.errors.map((e) => `  - ${e}`).join("\n")}`);
  }
  return result.config;
}
