/**
 * Build once: the builder builds each git-built service, the fleets download it. The wiring (who
 * may write and read what, what each boot script runs, what waits for what), the artifact's name
 * against its inputs, and the wait of `pulumi up` run against a Cloud Storage on loopback.
 */
import { spawn } from "child_process";
import { createServer } from "http";
import type { AddressInfo } from "net";
import { buildKey, buildObjects } from "../config/check-builds";
import { ServiceSchema } from "../config/schema";
import type { BuildsPlan } from "../config/stack-config";
import { artifactsFromManifests, renderBuildWaitScript } from "../components/service-builds";
import { objectsCondition } from "../components/vm";
import type { Recording, RecordedResource } from "../plan/record";
import { firstBootBudgetSec, roleOf } from "../startup/startup-script";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { exampleStacks } from "../scripts/outage-table";
import { inputs, ofType, planCommand, projectDir, recordStack, stackServices } from "./support/stack";

const templateType = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate";
const instanceType = "gcp:compute/instance:Instance";
const bucketMemberType = "gcp:storage/bucketIAMMember:BucketIAMMember";

/** A service's git run as the stack file gives it, parsed (defaults applied). */
const messengerRun = (stack: string, directory: string) => {
  const service = stackServices(stack).find((s) => (s.run as { directory?: string }).directory === directory)!;
  const run = ServiceSchema.parse(service).run;
  if (run.kind !== "git") throw new Error("not git-built");
  return run;
};

describe.each(Object.values(exampleStacks))("%s", (name) => {
  let stack: Recording;
  beforeAll(async () => {
    stack = await recordStack(name);
  });
  const builder = () => theOne(stack, (r) => r.type === instanceType && r.name.endsWith("-builds-builder"));
  const fleetScripts = () => ofType(stack, templateType).map((t) => [t.name, inputs(t).metadataStartupScript as string] as const);
  const gitBuilt = () => fleetScripts().filter(([, script]) => script.includes("install_artifact "));

  it("builds on the builder only: no fleet VM clones, builds, or installs a JDK or Maven", () => {
    expect(stack.errors).toEqual([]);
    expect(gitBuilt().length).toBeGreaterThan(0);
    for (const [template, script] of fleetScripts()) {
      expect([template, /\bgit (clone|-C)|runuser|mvn |openjdk-17-jdk|\bmaven\b/.test(script)]).toEqual([template, false]);
    }
    const script = inputs(builder()).metadataStartupScript as string;
    expect(roleOf(script)).toBe("builder");
    expect(script).toContain("build_or_report 'builds-geo-offline-plan-project' 'geo-distributed-messenger-");
    expect(script).toContain("'maven openjdk-17-jdk-headless' 'mvn --batch-mode --quiet clean package -Pprod -DskipTests' 'target/geo-distributed-messenger-1.0-SNAPSHOT.jar'");
    // The artifact keeps the jar at the path the command runs it from; the VM installs a JRE.
    for (const [, vm] of gitBuilt()) expect(vm).toMatch(/apt_get install [a-z0-9 .+-]*openjdk-17-jre-headless/);
  });

  it("lets the builder create and read objects of its bucket, never delete or overwrite them", () => {
    const grants = ofType(stack, bucketMemberType).filter((g) => g.parent?.endsWith("ServiceBuilds::geo-builds"));
    expect(grants.map((g) => [inputs(g).bucket, inputs(g).role, inputs(g).member, inputs(g).condition]).sort()).toEqual([
      ["builds-geo-offline-plan-project", "roles/storage.objectCreator", "serviceAccount:geo-builder@offline-plan-project.iam.gserviceaccount.com", undefined],
      ["builds-geo-offline-plan-project", "roles/storage.objectViewer", "serviceAccount:geo-builder@offline-plan-project.iam.gserviceaccount.com", undefined],
    ]);
    const bucket = inputs(ofType(stack, "gcp:storage/bucket:Bucket").find((b) => inputs(b).name === "builds-geo-offline-plan-project")!);
    expect(bucket).toMatchObject({ location: "US", uniformBucketLevelAccess: true, publicAccessPrevention: "enforced", forceDestroy: false });
  });

  it("lets each fleet's account read exactly the artifacts its VMs install: those objects, by a condition, and no listing", () => {
    const artifactGrants = ofType(stack, bucketMemberType).filter((g) => g.name.endsWith("-artifacts"));
    expect(artifactGrants.length).toBe(gitBuilt().length);
    for (const [template, script] of gitBuilt()) {
      const tier = template.replace(/-template$/, "");
      const grant = inputs(artifactGrants.find((g) => g.name === `${tier}-artifacts`)!);
      const installed = [...script.matchAll(/^\s*install_artifact '[^']+' '([^']+)' '([^']+)'/gm)].map(([, bucket, object]) => ({ bucket, object }));
      expect(installed.length).toBeGreaterThan(0);
      expect(grant.role).toBe("roles/storage.objectViewer");
      expect(grant.condition.expression).toBe(objectsCondition(installed[0].bucket, installed.map((i) => i.object).sort()));
      const account = inputs(ofType(stack, "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate").find((t) => t.name === template)!).serviceAccount.email;
      expect(grant.member).toBe(`serviceAccount:${account}`);
    }
  });

  it("creates a template that names an artifact only after the wait for the builder, which waits for the builder", () => {
    const wait = theOne(stack, (r) => r.type === "command:local:Command" && r.name.endsWith("-builds-stored"));
    expect(wait.dependencies).toContain(builder().urn);
    // A new builder (another set of builds) runs the wait again, for that builder's manifests and failures.
    expect(inputs(wait).triggers).toEqual([inputs(wait).environment.BUILDER_ID]);
    const templates = ofType(stack, templateType).filter((t) => (inputs(t).metadataStartupScript as string).includes("install_artifact "));
    for (const t of templates) expect([t.name, t.dependencies.includes(wait.urn)]).toEqual([t.name, true]);
    // Kong alone (the migrator, control planes, standalone's Kong tier) does not wait for builds.
    const kongOnly = [...ofType(stack, templateType), ...ofType(stack, instanceType)].filter((r) => r !== builder() && !(inputs(r).metadataStartupScript as string).includes("install_artifact "));
    for (const r of kongOnly) expect([r.name, r.dependencies.includes(wait.urn)]).toEqual([r.name, false]);
  });
});

/** The one resource of `recording` that `predicate` picks. */
function theOne(recording: Recording, predicate: (r: RecordedResource) => boolean): RecordedResource {
  const found = recording.resources.filter(predicate);
  if (found.length !== 1) throw new Error(`expected one, found ${found.length}`);
  return found[0];
}

describe("the offline plan", () => {
  it("lists each artifact with the accounts that may read it, the ones whose VMs install it, and who writes the bucket", async () => {
    const run = await planCommand("--stack", "us-standalone", "--out", mkdtempSync(join(tmpdir(), "builds-plan-")));
    expect(run.status).toBe(0);
    const section = run.stdout.slice(run.stdout.indexOf("Builds: "), run.stdout.indexOf("Policies: "));
    expect(section).toMatch(/^Builds: gs:\/\/builds-geo-offline-plan-project \(US\), written by geo-builder \(objectCreator\), geo-builder \(objectViewer\)$/m);
    const stack = await recordStack("us-standalone");
    const installers = new Map<string, string[]>();
    for (const t of ofType(stack, templateType).map(inputs)) {
      for (const [, object] of (t.metadataStartupScript as string).matchAll(/^\s*install_artifact '[^']+' '[^']+' '([^']+)'/gm)) {
        installers.set(object, [...(installers.get(object) ?? []), t.serviceAccount.email.replace(/@.*/, "")]);
      }
    }
    expect(installers.size).toBe(2);
    for (const [object, accounts] of installers) expect(section).toContain(`  ${object}\n    read by ${accounts.sort().join(", ")}\n`);
  });
});

describe("the boot budget", () => {
  it("is a download's, not a build's: the groups' autohealing delay and rollout wait, as the README gives it", async () => {
    const stack = await recordStack("us-multi");
    const budget = firstBootBudgetSec(ServiceSchema.array().parse(stackServices("us-multi")));
    for (const group of ofType(stack, "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").map(inputs)) {
      expect([group.name, group.autoHealingPolicies.initialDelaySec, group.updatePolicy.minReadySec]).toEqual([group.name, budget, budget]);
    }
    const readme = readFileSync(join(projectDir, "README.md"), "utf8");
    expect(readme).toContain(`falls from 1200 s to ${budget} s`);
    expect(budget).toBeLessThan(1200);
  });
});

describe("the artifact's name", () => {
  const run = messengerRun("us-multi", "messenger");
  const image = "debian-cloud/debian-12";

  it("changes exactly when an input of the build changes", () => {
    const base = buildKey(run, image);
    const changed = [
      { ...run, ref: "0123456789abcdef0123456789abcdef01234567" },
      // The name shows only the ref's first 12 characters: the hash must tell refs apart past them.
      { ...run, ref: `${run.ref.slice(0, -1)}0` },
      { ...run, repository: "https://github.com/example/fork.git" },
      { ...run, directory: "attachments" },
      { ...run, build: { ...run.build, command: `${run.build.command} -U` } },
      { ...run, build: { ...run.build, packages: [...run.build.packages, "nodejs"] } },
      { ...run, build: { ...run.build, artifacts: [...run.build.artifacts, "target/classes"] } },
    ].map((r) => buildKey(r, image));
    expect(new Set([base, ...changed]).size).toBe(1 + changed.length);
    expect(buildKey(run, "debian-cloud/debian-13")).not.toBe(base);
    // What only the fleet uses does not rebuild: the command, the runtime's packages.
    expect(buildKey({ ...run, command: "java -Xmx1g -jar target/geo-distributed-messenger-1.0-SNAPSHOT.jar", packages: ["openjdk-21-jre-headless"] }, image)).toBe(base);
    expect(buildKey({ ...run, build: { ...run.build, packages: [...run.build.packages].reverse() } }, image)).toBe(base);
    expect(base).toMatch(/^geo-distributed-messenger-7926c7cfe43a-[0-9a-f]{24}$/);
  });

  it("changes the builder's script, the wait and the templates when a ref changes, and nothing when nothing does", async () => {
    const services = stackServices("us-multi").map((s) => ({ ...s, run: { ...(s.run as object), ref: "0123456789abcdef0123456789abcdef01234567" } }));
    const [before, again, after] = await Promise.all([recordStack("us-multi"), recordStack("us-multi", {}), recordStack("us-multi", { services })]);
    const pick = (r: Recording) => ({
      builder: inputs(theOne(r, (x) => x.name.endsWith("-builds-builder"))).metadataStartupScript,
      templates: ofType(r, templateType).map((t) => inputs(t).metadataStartupScript),
      migrator: inputs(theOne(r, (x) => x.name === "geo-migrator-vm")).metadataStartupScript,
    });
    expect(pick(again)).toEqual(pick(before));
    expect(pick(after).builder).not.toEqual(pick(before).builder);
    pick(after).templates.forEach((t, i) => expect(t).not.toEqual(pick(before).templates[i]));
    expect(pick(after).migrator).toEqual(pick(before).migrator);
  });
});

describe("the wait of `pulumi up` for the builder", () => {
  const plan: BuildsPlan = {
    bucketName: "builds-geo-p",
    location: "US",
    machineType: "e2-standard-2",
    timeoutSec: 2400,
    builds: ["a", "b"].map((d) => ({ key: `app-v1-${d}`, repository: "https://example.com/app.git", ref: "v1", directory: d, command: "make", packages: [], artifacts: ["app"], services: [`svc-${d}`] })),
  };
  const manifest = (key: string) => JSON.stringify({ object: buildObjects(key).artifact, generation: "1700000000000001", sha256: "ab".repeat(32), bytes: 10 });

  /** The rendered wait against a Cloud Storage on loopback holding `objects` (name to body); exit code and output. */
  async function runWait(objects: Record<string, string>, timeoutSec = 2) {
    const requests: string[] = [];
    const server = createServer((request, response) => {
      const url = new URL(request.url!, "http://x");
      requests.push(`${request.headers.authorization} ${url.pathname}`);
      const object = decodeURIComponent(url.pathname.replace("/storage/v1/b/builds-geo-p/o/", ""));
      if (url.searchParams.get("alt") !== "media" || !(object in objects)) return void response.writeHead(404).end("{}");
      if (objects[object] === "forbidden") return void response.writeHead(403).end("{}");
      response.writeHead(200).end(objects[object]);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const wait = spawn("/bin/bash", ["-c", renderBuildWaitScript({ name: "geo-builder", zone: "us-west2-a" }, timeoutSec)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH,
        POLL_SEC: "0.2",
        GOOGLE_OAUTH_ACCESS_TOKEN: "deployer-token",
        STORAGE_API: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        BUCKET: "builds-geo-p",
        BUILDS: plan.builds.map((b) => b.key).join(" "),
        BUILDER_ID: "4242",
      },
    });
    let stdout = "";
    let stderr = "";
    wait.stdout.on("data", (d) => (stdout += d));
    wait.stderr.on("data", (d) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => wait.on("exit", resolve));
    server.close();
    return { status, stdout, stderr, requests };
  }

  it("prints every manifest once stored, read with the deployer's token, which the program turns into each service's artifact", async () => {
    const { status, stdout, requests } = await runWait({ "builds/app-v1-a.json": manifest("app-v1-a"), "builds/app-v1-b.json": manifest("app-v1-b") });
    expect(status).toBe(0);
    expect(requests.every((r) => r.startsWith("Bearer deployer-token "))).toBe(true);
    expect(artifactsFromManifests(stdout, plan)).toEqual({
      "svc-a": { bucket: "builds-geo-p", object: "builds/app-v1-a.tar.gz", generation: "1700000000000001", sha256: "ab".repeat(32) },
      "svc-b": { bucket: "builds-geo-p", object: "builds/app-v1-b.tar.gz", generation: "1700000000000001", sha256: "ab".repeat(32) },
    });
  });

  it("fails at once with the builder's last lines when this builder stored a failure", async () => {
    const { status, stderr } = await runWait({ "builds/app-v1-a.json": manifest("app-v1-a"), "builds/app-v1-b.failed/4242.log": "[ERROR] Failed to execute goal\nBUILD FAILURE\n" }, 60);
    expect(status).toBe(1);
    expect(stderr).toContain("the build of app-v1-b failed on geo-builder; its last lines:\n[ERROR] Failed to execute goal\nBUILD FAILURE");
    expect(stderr).toContain("pulumi up --replace");
  });

  it("ignores another builder's failure, and fails after its timeout naming the builder's log", async () => {
    const { status, stderr } = await runWait({ "builds/app-v1-a.failed/1111.log": "old failure" });
    expect(status).toBe(1);
    expect(stderr).not.toContain("old failure");
    expect(stderr).toContain("gs://builds-geo-p/builds/app-v1-a.json not stored after 2 s; the builder's log: gcloud compute instances get-serial-port-output geo-builder --zone us-west2-a");
  });

  it("fails at once when the deployer's credentials may not read the bucket, saying so", async () => {
    const started = Date.now();
    const { status, stderr } = await runWait({ "builds/app-v1-a.json": "forbidden" }, 60);
    expect(status).toBe(1);
    expect(stderr).toContain("the credentials pulumi up runs with may not read gs://builds-geo-p/builds/app-v1-a.json (HTTP 403)");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("refuses a manifest that does not name the artifact with a generation and a SHA-256", () => {
    expect(() => artifactsFromManifests(JSON.stringify({ "app-v1-a": { object: "builds/app-v1-a.tar.gz", generation: "1", sha256: "ab".repeat(32) } }), plan)).toThrow(
      "the builder's manifest of app-v1-b is not",
    );
    expect(() => artifactsFromManifests(JSON.stringify({ "app-v1-a": { object: "builds/other.tar.gz", generation: "1", sha256: "x" }, "app-v1-b": {} }), plan)).toThrow("app-v1-a");
  });
});
