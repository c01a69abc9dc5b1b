/**
 * Reads the facts the example stacks depend on from the messenger's own repository at one commit,
 * and writes them as test/fixtures/messenger/<commit>.json: per service directory, the jar its
 * pom.xml builds, its Maven profiles, the placeholders of application-prod.properties and the one
 * that sets its port, the environment variables its Java code reads, its HTTP endpoints and Vaadin
 * routes; and Attachments' bucket prefix.
 *
 *   node -r ./scripts/register-ts.js scripts/messenger-facts.ts <bare git dir> <commit>
 *
 * The git dir is a clone of YugabyteDB-Samples/geo-distributed-messenger; nothing here downloads it.
 */
import { execFileSync } from "child_process";
import { writeFileSync } from "fs";
import { join } from "path";

const [gitDir, commitArg] = process.argv.slice(2);
if (!gitDir || !commitArg) {
  process.stderr.write("usage: messenger-facts.ts <bare git dir> <commit>\n");
  process.exit(2);
}
const git = (...args: string[]) => execFileSync("git", ["--git-dir", gitDir, ...args], { encoding: "utf8" });
const commit = git("rev-parse", `${commitArg}^{commit}`).trim();
const show = (path: string) => git("show", `${commit}:${path}`);
const files = git("ls-tree", "-r", "--name-only", commit).split("\n");
const all = (pattern: RegExp, text: string) => [...text.matchAll(pattern)].map((m) => m[1]);

function serviceFacts(directory: string) {
  const pom = show(`${directory}/pom.xml`);
  // The project's own coordinates: what is left outside its nested blocks.
  const own = pom.replace(/<(parent|dependencies|dependencyManagement|build|profiles|repositories|pluginRepositories)>[\s\S]*?<\/\1>/g, "");
  const artifactId = /<artifactId>([^<]+)<\/artifactId>/.exec(own)![1];
  const version = /<version>([^<]+)<\/version>/.exec(own)![1];
  const profiles = [...pom.matchAll(/<profile>([\s\S]*?)<\/profile>/g)].map(([, body]) => ({
    id: /<id>([^<]+)<\/id>/.exec(body)![1],
    activeByDefault: /<activeByDefault>true<\/activeByDefault>/.test(body),
    springProfile: /<spring\.profiles\.active>([^<]+)</.exec(body)?.[1],
  }));
  const prod = show(`${directory}/src/main/resources/application-prod.properties`);
  const port = /^server\.port\s*=\s*\$\{([A-Z0-9_]+)(?::(\d+))?\}/m.exec(prod)!;
  const placeholders = [...prod.matchAll(/^[^#\n]*\$\{([A-Z][A-Z0-9_]*)(:[^}]*)?\}/gm)].map(([, name, fallback]) => ({ name, required: !fallback }));
  const java = files.filter((f) => f.startsWith(`${directory}/src/main/java/`) && f.endsWith(".java")).map(show).join("\n");
  return {
    directory,
    artifactId,
    version,
    jar: `target/${artifactId}-${version}.jar`,
    profiles,
    prodPlaceholders: placeholders,
    /** The variable (and its default) that sets server.port in the prod profile. */
    portVariable: { name: port[1], ...(port[2] ? { default: Number(port[2]) } : {}) },
    envReadByCode: [...new Set(all(/System\.getenv\("([A-Z0-9_]+)"\)/g, java))].sort(),
    endpoints: [
      ...all(/@(?:Get|Post|Put|Delete|Request)Mapping\("([^"]+)"\)/g, java),
      ...all(/@Route\(value = "([^"]*)"/g, java).map((r) => `/${r}`),
    ].sort(),
  };
}

const attachments = files.filter((f) => f.startsWith("attachments/src/main/java/")).map(show).join("\n");
const facts = {
  repository: "https://github.com/YugabyteDB-Samples/geo-distributed-messenger.git",
  commit,
  committed: git("show", "-s", "--format=%cs", commit).trim(),
  generatedBy: "scripts/messenger-facts.ts",
  services: Object.fromEntries(["messenger", "attachments"].map((d) => [d, serviceFacts(d)])),
  picturesBucketPrefix: /PICTURES_BUCKET = "([^"]+)"/.exec(attachments)![1],
};
const out = join(__dirname, "..", "test", "fixtures", "messenger", `${commit}.json`);
writeFileSync(out, `${JSON.stringify(facts, null, 2)}\n`);
process.stdout.write(`wrote ${out}\n`);
