/**
 * Builds plan/replace-on-change.json: for each resource type the program creates, the input paths
 * whose change makes the provider replace the resource instead of updating it. @pulumi/gcp bridges
 * the Terraform Google (beta) provider; its Go schemas mark each such field `ForceNew: true`.
 *
 *   node -r ./scripts/register-ts.js scripts/replace-on-change.ts <terraform-provider-google-beta git dir> <commit>
 *
 * The commit is the one pulumi-gcp's `upstream` submodule names (`git ls-tree <tag> upstream` in
 * pulumi/pulumi-gcp). Paths use the Pulumi names: camelCase, and list blocks of more than one item
 * pluralized (`disk` → `disks`), as the bridge names them; `[]` stands for any element.
 */
import { execFileSync } from "child_process";
import { writeFileSync } from "fs";
import { join } from "path";
import { projectDir, readStackFile } from "../plan/stack-file";
import { recordStackFile } from "../plan/stack-recording";
import { exampleStacks } from "./outage-table";

const [gitDir, commit] = process.argv.slice(2);

const git = (...args: string[]) => execFileSync("git", ["--git-dir", gitDir, ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
const show = (path: string) => git("show", `${commit}:${path}`);

/** Terraform's name of a Pulumi GCP type: `gcp:compute/regionInstanceTemplate:RegionInstanceTemplate` → `google_compute_region_instance_template`. */
export function terraformName(type: string): string {
  const [, moduleAndName, name] = type.split(":");
  const module = moduleAndName.split("/")[0];
  const modules: Record<string, string> = {
    projects: "project",
    serviceaccount: "service_account",
    secretmanager: "secret_manager",
    servicenetworking: "service_networking",
    certificatemanager: "certificate_manager",
  };
  // The service account resource is the module itself.
  if (type === "gcp:serviceaccount/account:Account") return "google_service_account";
  const snake = name
    .replace(/^URLMap$/, "UrlMap")
    .replace(/IAM/g, "Iam")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase();
  return `google_${modules[module] ?? module}_${snake}`;
}

/** The index just past the `}` closing the `{` at `open`, skipping Go strings and comments. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "`") {
      i = text.indexOf("`", i + 1);
    } else if (c === "/" && text[i + 1] === "/") {
      i = text.indexOf("\n", i);
    } else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced braces at ${open}`);
}

/** The top-level `"key": { … }` entries of a schema map's body. */
function entries(body: string): { key: string; block: string }[] {
  const found: { key: string; block: string }[] = [];
  const keyPattern = /"([a-z0-9_]+)":\s*\{/g;
  let match: RegExpExecArray | null;
  while ((match = keyPattern.exec(body))) {
    const open = match.index + match[0].length - 1;
    const end = closing(body, open);
    found.push({ key: match[1], block: body.slice(open + 1, end - 1) });
    keyPattern.lastIndex = end;
  }
  return found;
}

/** A block's own text, nested blocks blanked, so `ForceNew` of a child is not read as the parent's. */
function ownText(block: string): string {
  let out = "";
  for (let i = 0; i < block.length; i++) {
    if (block[i] === "{") {
      const end = closing(block, i);
      out += "{}";
      i = end - 1;
    } else out += block[i];
  }
  return out;
}

const camel = (snake: string) => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const plural = (name: string) => (name.endsWith("s") ? name : name.endsWith("y") ? `${name.slice(0, -1)}ies` : `${name}s`);

/** The body of the schema map that starts at `from` (`map[string]*schema.Schema{`). */
function schemaBody(text: string, from: number): string {
  const open = text.indexOf("{", from);
  return text.slice(open + 1, closing(text, open) - 1);
}

function forceNewPaths(body: string, file: string, prefix = ""): string[] {
  return entries(body).flatMap(({ key, block }) => {
    const own = ownText(block);
    const list = /Type:\s*schema\.Type(List|Set)/.test(own) && !/MaxItems:\s*1\b/.test(own);
    const name = `${prefix}${list ? plural(camel(key)) : camel(key)}`;
    const paths = /ForceNew:\s*true/.test(own) ? [name] : [];
    const nested = /Elem:\s*&schema\.Resource\{/.exec(block);
    if (nested) {
      const start = block.indexOf("Schema: map[string]*schema.Schema{", nested.index);
      if (start >= 0) paths.push(...forceNewPaths(schemaBody(block, start), file, `${name}${list ? "[]" : ""}.`));
    } else {
      // A shared element schema: `Elem: someSchemaElem` defined in the same file.
      const named = /Elem:\s*([A-Za-z]\w*),/.exec(own);
      const definition = named && new RegExp(`var ${named[1]}[^=]*=\\s*&schema\\.Resource\\{`).exec(file);
      if (definition) {
        const start = file.indexOf("Schema: map[string]*schema.Schema{", definition.index);
        paths.push(...forceNewPaths(schemaBody(file, start), file, `${name}${list ? "[]" : ""}.`));
      }
    }
    return paths;
  });
}

/** IAM member resources: the base schema (role, member, condition) with the parent's (`var <name> = map…`). */
function iamMemberForceNew(parentSchema: string, file: string): string[] {
  const iam = show("google-beta/tpgiamresource/resource_iam_member.go");
  const base = iam.indexOf("var IamMemberBaseSchema = map[string]*schema.Schema{");
  const parent = file.indexOf(`var ${parentSchema} = map[string]*schema.Schema{`);
  if (base < 0 || parent < 0) throw new Error(`IAM schema ${parentSchema} not found`);
  return [...forceNewPaths(schemaBody(iam, base), iam), ...forceNewPaths(schemaBody(file, parent), file)];
}

const iamMember = /tpgiamresource\.ResourceIamMember\(\s*(\w+)/;

/** The ForceNew paths of one Terraform resource, from its registration. */
function resourceForceNew(tfName: string): string[] {
  const hit = git("grep", "-n", "-F", `Name:        "${tfName}",`, commit, "--", "google-beta/services").split("\n").find((l) => /\/(resource|iam)_[^/]+\.go:/.test(l));
  if (!hit) throw new Error(`${tfName}: no registration at ${commit}`);
  const path = hit.split(":")[1];
  const file = show(path);
  const registration = file.slice(file.indexOf(`Name:        "${tfName}",`));
  const schema = /Schema:\s+(tpgiamresource\.ResourceIamMember\((\w+)|(\w+)\(\))/.exec(registration);
  if (!schema) throw new Error(`${tfName}: unrecognized registration in ${path}: ${registration.slice(0, 300)}`);
  if (schema[2]) return iamMemberForceNew(schema[2], file);
  const dir = path.slice(0, path.lastIndexOf("/"));
  const definition = git("grep", "-n", "-F", `func ${schema[3]}() *schema.Resource {`, commit, "--", dir).split("\n")[0];
  const source = show(definition.split(":")[1]);
  const start = source.indexOf(`func ${schema[3]}() *schema.Resource {`);
  const body = source.slice(start, closing(source, source.indexOf("{", start)));
  const wrapped = iamMember.exec(body);
  if (wrapped) return iamMemberForceNew(wrapped[1], source);
  return forceNewPaths(schemaBody(source, source.indexOf("Schema: map[string]*schema.Schema{", start)), source);
}

async function main() {
  if (!gitDir || !commit) throw new Error("usage: scripts/replace-on-change.ts <terraform-provider-google-beta git dir> <commit>");
  const types = new Set<string>();
  const variants: [string, Record<string, string>][] = [
    ...Object.values(exampleStacks).map((stack): [string, Record<string, string>] => [stack, {}]),
    ["us-multi", { "geo-api-layer:loadBalancer": JSON.stringify({ domains: ["api.example.com"] }) }],
  ];
  for (const [stack, extra] of variants) {
    const file = readStackFile(projectDir, stack);
    Object.assign(file.config, extra);
    for (const r of (await recordStackFile(file, stack)).resources) if (r.custom && r.type.startsWith("gcp:")) types.add(r.type);
  }
  const resources: Record<string, string[]> = {};
  for (const type of [...types].sort()) resources[type] = [...new Set(resourceForceNew(terraformName(type)))].sort();
  const describe = git("describe", "--tags", commit).trim();
  const table = {
    source: `hashicorp/terraform-provider-google-beta ${describe} (${commit}), the upstream pulumi/pulumi-gcp names for @pulumi/gcp; built by scripts/replace-on-change.ts`,
    resources,
  };
  writeFileSync(join(projectDir, "plan", "replace-on-change.json"), `${JSON.stringify(table, null, 2)}\n`);
  console.log(`plan/replace-on-change.json: ${Object.keys(resources).length} resource types from ${describe}`);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
