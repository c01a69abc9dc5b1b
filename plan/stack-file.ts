/** Reads a stack's config file the way the Pulumi CLI hands config to a program. */
import { readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";

/** The project: Pulumi.yaml and the stack files beside it. */
export const projectDir = join(__dirname, "..");

/** Stands in for `gcp:project` when a stack file leaves it for the user to set. */
export const placeholderProject = "offline-plan-project";

export interface StackFile {
  project: string;
  /** `ns:key` to string value; structured values as JSON, as the CLI passes them. */
  config: Record<string, string>;
  /** Keys whose values were `secure:` ciphertext, now placeholders. */
  secretKeys: string[];
}

/** @param file the stack's config file; @default `Pulumi.<stack>.yaml` beside Pulumi.yaml */
export function readStackFile(projectDir: string, stack: string, file = join(projectDir, `Pulumi.${stack}.yaml`)): StackFile {
  const project = (parse(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const document = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [rawKey, value] of Object.entries(document.config ?? {})) {
    const key = rawKey.includes(":") ? rawKey : `${project}:${rawKey}`;
    if (value !== null && typeof value === "object" && "secure" in (value as object)) {
      // Ciphertext needs the stack's key; the plan only needs a value of the right shape.
      config[key] = `placeholder-for-${key}`;
      secretKeys.push(key);
    } else {
      config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  config["gcp:project"] ??= placeholderProject;
  return { project, config, secretKeys };
}
