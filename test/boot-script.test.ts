/** What a VM does at boot: the rendered scripts run in a sandbox, twice, and fail the way they should. */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { ServiceSchema } from "../config/schema";
import { renderKongConf } from "../startup/kong-conf";
import { adminRequests, deterministicUuid, kongEntities, renderAdminRequests, renderDeclarativeConfig } from "../startup/kong-entities";
import type { KongMode, StartupScriptInput } from "../startup/boot-input";
import { renderStartupScript } from "../startup/startup-script";
import { systemdWord } from "../startup/systemd";
import { bootFailureLabelExtractors } from "../components/alerting-rules";
import { countedFailures, extract, scriptRunnerMessages } from "./support/logging-query";
import { callIndex, echoService, expectStatus, Sandbox } from "./support/sandbox";

const services = [
  ServiceSchema.parse({
    name: "notes",
    port: 9001,
    healthPath: "/health",
    env: { KONG_URL: "{{kong}}/echo" },
    secretEnv: { NOTES_DB_PASSWORD: "notes-db" },
    routes: [
      { name: "notes", paths: ["/notes"] },
      { name: "notes-internal", paths: ["/internal"], internal: true },
    ],
    run: {
      kind: "git",
      repository: "https://git.example.com/notes.git",
      ref: "v1.2.3",
      directory: "app",
      build: { command: "make jar", packages: ["openjdk-17-jdk-headless", "maven"], artifacts: ["target/notes.jar"] },
      packages: ["openjdk-17-jre-headless"],
      command: "java -jar target/notes.jar",
    },
  }),
  echoService,
];
/** The builder's artifact of notes: a real gzip'd tar, as build_artifact packs it. */
const notesJar = "notes jar bytes\n";
const artifactDir = mkdtempSync(join(tmpdir(), "artifact-"));
mkdirSync(join(artifactDir, "target"));
writeFileSync(join(artifactDir, "target", "notes.jar"), notesJar);
const notesArtifact = execFileSync("tar", ["-C", artifactDir, "-czf", "-", "target/notes.jar"]);
rmSync(artifactDir, { recursive: true });
const artifact = { bucket: "builds-geo-proj", object: "builds/notes-v1-2-3-0123abcd.tar.gz", generation: "1700000000000001", sha256: createHash("sha256").update(notesArtifact).digest("hex") };
const entities = kongEntities(services, { internalSources: ["10.0.0.0/20"] });
const requests = renderAdminRequests(adminRequests(entities));
const sharedConf = renderKongConf({ proxyPort: 8000, statusPort: 8100, adminPort: 8001, memCacheSize: "128m", trustedIps: ["35.191.0.0/16"], database: { host: "10.64.0.5", verifiedTls: true } });
const databaseCa = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const secret = "projects/proj/secrets/kong-db-password";
const kongRepository = { url: "https://packages.konghq.com/public/gateway-39", keyFingerprint: "B9DCD032B1696A89" };

function script(mode: KongMode | undefined, overrides: Partial<StartupScriptInput> = {}, conf = sharedConf): string {
  return renderStartupScript({
    role: mode ? (mode.kind === "migrator" ? "migrator" : "gateway") : "service-tier",
    region: "us-east4",
    debianCodename: "bookworm",
    kong: mode ? { mode, conf, version: "3.9.1", packageRepository: kongRepository, proxyPort: 8000, statusPort: 8100, adminPort: 8001 } : undefined,
    services: mode?.kind === "migrator" ? [] : services,
    artifacts: { notes: artifact },
    kongUrl: "http://127.0.0.1:8000",
    project: "proj",
    bootBudgetSec: 60,
    ...overrides,
  });
}

const gateway = script({ kind: "shared-db", passwordSecret: secret, databaseCa });
const withArtifact = (sandbox: Sandbox) => sandbox.storedObject(artifact.bucket, artifact.object, artifact.generation, notesArtifact);
const newSandbox = () => withArtifact(new Sandbox()).secret("kong-db-password", "kong-pass").secret("notes-db", 'n0tes "quoted"');
const inOrder = (calls: string[], prefixes: string[]) => {
  const positions = prefixes.map((p) => callIndex(calls, p));
  expect(positions.every((p) => p >= 0)).toBe(true);
  expect(positions).toEqual([...positions].sort((a, b) => a - b));
};

describe("a gateway on the shared database", () => {
  const sandbox = newSandbox().migrations("0");
  const first = sandbox.run(gateway);
  const second = sandbox.run(gateway);

  it("installs Kong pinned from its signed repository, then the services, on first boot", () => {
    expectStatus(first, 0);
    inOrder(first.calls, [
      "apt-get -o DPkg::Lock::Timeout=300 -q -y update",
      // The runtime only: no git, JDK or Maven on a fleet VM.
      "apt-get -o DPkg::Lock::Timeout=300 -q -y install ca-certificates curl docker.io gnupg jq openjdk-17-jre-headless",
      "curl -fsSL -o",
      "gpg --show-keys",
      "gpg --batch --yes --dearmor",
      "apt-get -o DPkg::Lock::Timeout=300 -q -y install kong=3.9.1",
      "apt-mark hold kong",
      "useradd --system --home-dir /opt/geo-api-layer/notes",
      `curl -sS --retry 5 -H @- -o`,
      "docker pull registry.example.com/echo@sha256:0123",
    ]);
    const download = first.calls.find((c) => c.includes("storage.googleapis.com"))!;
    expect(download).toContain(`https://storage.googleapis.com/storage/v1/b/builds-geo-proj/o/builds%2Fnotes-v1-2-3-0123abcd.tar.gz?alt=media&generation=${artifact.generation}`);
    // Nothing is built here: no checkout, no build command, no build's packages.
    expect(first.calls.filter((c) => /^(git|runuser)\b/.test(c) || /install .*(openjdk-17-jdk|maven)/.test(c))).toEqual([]);
    expect(sandbox.file("etc/apt/sources.list.d/kong-gateway-39.list")).toBe(
      "deb [signed-by=/usr/share/keyrings/kong-gateway-39.gpg] https://packages.konghq.com/public/gateway-39/deb/debian bookworm main\n",
    );
  });

  it("reads secrets from Secret Manager into root-only env files, never into kong.conf", () => {
    expect(sandbox.file("etc/kong/kong.env")).toBe('GEO_KONG_PG_PASSWORD="kong-pass"\n');
    expect(sandbox.mode("etc/kong/kong.env")).toBe("600");
    expect(sandbox.file("etc/kong/kong.conf")).not.toContain("kong-pass");
    const env = sandbox.file("etc/geo-api-layer/notes.env");
    expect(sandbox.mode("etc/geo-api-layer/notes.env")).toBe("600");
    expect(env).toContain('NOTES_DB_PASSWORD="n0tes \\"quoted\\""');
    expect(env).toContain('KONG_URL="http://127.0.0.1:8000/echo"');
    expect(env).toContain('REGION="us-east4"');
    expect(first.calls.some((c) => c.includes("secretmanager.googleapis.com/v1/projects/proj/secrets/kong-db-password/versions/latest:access"))).toBe(true);
  });

  it("starts the services, waits for them, and only then starts Kong and waits for its routes", () => {
    inOrder(first.calls, [
      "systemctl daemon-reload",
      "kong migrations list",
      "systemctl enable geo-svc-notes.service geo-svc-echo.service",
      "systemctl restart geo-svc-notes.service geo-svc-echo.service",
      "curl -fs -o /dev/null --max-time 5 http://127.0.0.1:9001/health",
      "curl -fs -o /dev/null --max-time 5 http://127.0.0.1:9002/healthz",
      "systemctl restart kong.service",
      // The health route: it answers only once the node's routes are loaded.
      "curl -fs -o /dev/null --max-time 5 http://127.0.0.1:8000/geo-api-layer/health",
    ]);
    // Kong's unit is never enabled: after a reboot only this script starts it, after the services.
    expect(first.calls.filter((c) => c.startsWith("systemctl enable") && c.includes("kong"))).toEqual([]);
    expect(sandbox.file("etc/systemd/system/kong.service")).not.toContain("[Install]");
    expect(first.output).toMatch(/ready in \d+ s/);
  });

  it("unpacks the builder's artifact, root's, where the service runs from", () => {
    expect(sandbox.file("opt/geo-api-layer/notes/app/target/notes.jar")).toBe(notesJar);
    expect(first.output).toContain(`installed notes's artifact gs://${artifact.bucket}/${artifact.object}#${artifact.generation}`);
    expect(sandbox.file("etc/systemd/system/geo-svc-notes.service")).toContain("WorkingDirectory=/opt/geo-api-layer/notes/app\n");
  });

  it("writes systemd units with restart policies, services running as their own user", () => {
    const unit = sandbox.file("etc/systemd/system/geo-svc-notes.service");
    expect(unit).toContain("User=svc-notes");
    expect(unit).toContain("Restart=always");
    expect(unit).toContain("EnvironmentFile=/etc/geo-api-layer/notes.env");
    expect(sandbox.file("etc/systemd/system/kong.service")).toContain("EnvironmentFile=/etc/kong/kong.env");
  });

  it("on reboot installs nothing, writes nothing, migrates nothing, and just starts what is stopped", () => {
    expectStatus(second, 0);
    for (const prefix of ["apt-get", "apt-mark", "git", "docker pull", "useradd", "gpg", "systemctl daemon-reload", "systemctl restart", "kong migrations bootstrap", "kong migrations up"]) {
      expect(second.calls.filter((c) => c.startsWith(prefix))).toEqual([]);
    }
    expect(second.output).not.toContain("wrote ");
    expect(second.output).toContain("packages already installed");
    expect(second.calls).toContain("systemctl start kong.service");
  });

  it("restarts Kong after a rotated password, rewriting only that file", () => {
    sandbox.secret("kong-db-password", "rotated");
    const third = sandbox.run(gateway);
    expectStatus(third, 0);
    expect(third.output.match(/wrote \S+/g)).toEqual(["wrote /etc/kong/kong.env"]);
    expect(third.calls).toContain("systemctl restart kong.service");
  });
});

describe("waiting for the migrator", () => {
  it("starts Kong once kong migrations list reports the schema up to date", () => {
    const run = newSandbox().migrations("pending:3").run(gateway);
    expectStatus(run, 0);
    expect(run.calls.filter((c) => c.startsWith("kong migrations list"))).toHaveLength(4);
    expect(run.output).toContain("waiting for the migrator");
    expect(run.calls.some((c) => /^kong migrations (bootstrap|up|finish)/.test(c))).toBe(false);
  });

  it("starts on pending migrations alone, as Kong itself does (kong/init.lua refuses only new ones)", () => {
    const run = newSandbox().migrations("4").run(gateway);
    expectStatus(run, 0);
    expect(run.output).toContain("Kong's database schema is up to date (kong migrations list: 4)");
    expect(run.calls.some((c) => /^kong migrations (bootstrap|up|finish)/.test(c))).toBe(false);
  });

  it("gives up within the boot budget with a clear message, leaving Kong stopped", () => {
    const short = script({ kind: "shared-db", passwordSecret: secret, databaseCa }, { bootBudgetSec: 2 });
    const run = withArtifact(new Sandbox({ SANDBOX_SLEEP: "1" }))
      .secret("kong-db-password", "p")
      .secret("notes-db", "n")
      .migrations("5")
      .run(short);
    expectStatus(run, 1);
    expect(run.output).toContain("FAILED: Kong's database schema still not up to date (kong migrations list: 5) after 2 s");
    expect(run.calls).toContain("systemctl stop kong.service");
    expect(run.calls.some((c) => /^systemctl (start|restart) kong/.test(c))).toBe(false);
  });
});

describe("failures autohealing must see", () => {
  it("a service that never becomes healthy fails the boot before Kong starts", () => {
    const short = script({ kind: "shared-db", passwordSecret: secret, databaseCa }, { bootBudgetSec: 2 });
    const run = withArtifact(new Sandbox({ SANDBOX_SLEEP: "1", SANDBOX_UNHEALTHY_PORTS: "9001" }))
      .secret("kong-db-password", "p")
      .secret("notes-db", "n")
      .migrations("0")
      .run(short);
    expectStatus(run, 1);
    expect(run.output).toContain("FAILED: notes not ready at http://127.0.0.1:9001/health within 2 s of boot");
    expect(run.calls.some((c) => /^systemctl (start|restart) kong/.test(c))).toBe(false);
  });

  it("an artifact whose bytes are not the builder's fails the boot at once, naming it, before any service starts", () => {
    const corrupt = Buffer.concat([notesArtifact, Buffer.from("tampered")]);
    const run = new Sandbox().secret("kong-db-password", "p").secret("notes-db", "n").migrations("0").storedObject(artifact.bucket, artifact.object, artifact.generation, corrupt).run(gateway);
    expectStatus(run, 1);
    const sum = createHash("sha256").update(corrupt).digest("hex");
    expect(run.output).toContain(`FAILED: notes's artifact gs://${artifact.bucket}/${artifact.object}#${artifact.generation} is corrupt: its SHA-256 is ${sum}, the builder stored ${artifact.sha256}`);
    expect(run.calls.filter((c) => c.includes("storage.googleapis.com"))).toHaveLength(1);
    expect(run.calls.some((c) => /^systemctl (enable|start|restart)/.test(c))).toBe(false);
  });

  it("an artifact that is not stored (another generation, or none) is waited for within the budget, then fails the boot naming it", () => {
    const short = script({ kind: "shared-db", passwordSecret: secret, databaseCa }, { bootBudgetSec: 6 });
    const run = new Sandbox({ SANDBOX_SLEEP: "1" })
      .secret("kong-db-password", "p")
      .secret("notes-db", "n")
      .migrations("0")
      .storedObject(artifact.bucket, artifact.object, "1", notesArtifact)
      .run(short);
    expectStatus(run, 1);
    const name = `gs://${artifact.bucket}/${artifact.object}#${artifact.generation}`;
    expect(run.output).toContain(`notes's artifact ${name} not readable yet (HTTP 404`);
    expect(run.output).toContain(`FAILED: notes's artifact ${name} still unreadable (HTTP 404) 6 s after boot: is it stored (the builder's log), and may this VM's service account read it?`);
    expect(run.calls.filter((c) => c.includes("storage.googleapis.com")).length).toBeGreaterThan(1);
    expect(run.calls.some((c) => /^systemctl (enable|start|restart)/.test(c))).toBe(false);
  });

  it("a repository key with another fingerprint stops the install", () => {
    const run = new Sandbox({ SANDBOX_KEY_FINGERPRINT: "DEADBEEFDEADBEEF" }).secret("kong-db-password", "p").run(gateway);
    expectStatus(run, 1);
    expect(run.output).toContain("FAILED: Kong's repository key has an unexpected fingerprint");
    expect(run.calls.some((c) => c.includes("install kong="))).toBe(false);
  });

  it("a secret that cannot be read fails the boot within its budget, saying which, instead of starting without it", () => {
    const short = script({ kind: "shared-db", passwordSecret: secret, databaseCa }, { bootBudgetSec: 6 });
    const run = withArtifact(new Sandbox({ SANDBOX_SLEEP: "1" })).secret("notes-db", "n").migrations("0").run(short);
    expectStatus(run, 1);
    expect(run.output).toContain("secret projects/proj/secrets/kong-db-password/versions/latest not readable yet (HTTP 404");
    expect(run.output).toContain(
      "FAILED: secret projects/proj/secrets/kong-db-password/versions/latest still unreadable (HTTP 404) 6 s after boot: does it exist, and may this VM's service account access it?",
    );
    expect(run.calls.some((c) => c.startsWith("systemctl enable"))).toBe(false);
  });
});

describe("the boot-failure alert's log-based metric", () => {
  // The real script's output, as the guest agent logs it, against the metric's own filter.
  const counted = (output: string) => countedFailures(scriptRunnerMessages(output), "proj", { name: "geo-us-east4-x1b2", group: "geo-us-east4" });

  it("counts the lines that fail a boot, the cause first, labelled with the role and the group, and no other line", () => {
    const short = script({ kind: "shared-db", passwordSecret: secret, databaseCa }, { bootBudgetSec: 4 });
    const run = withArtifact(new Sandbox({ SANDBOX_SLEEP: "1" })).secret("notes-db", "n").migrations("0").run(short);
    expectStatus(run, 1);
    // Lines that say what went wrong without failing the boot are not counted.
    expect(run.output).toContain("not readable yet (HTTP 404");
    const failures = counted(run.output);
    // The cause first; a failure inside a command substitution then fails its caller too (the ERR trap).
    expect(failures.map((e) => e.jsonPayload.message)).toEqual(run.output.split("\n").filter((line) => line.includes(": FAILED: ")).map((line) => `startup-script: ${line}`));
    expect(failures[0].jsonPayload.message).toMatch(/^startup-script: geo-api-layer\[gateway\]: FAILED: secret projects\/proj\/secrets\/kong-db-password/);
    expect(extract(bootFailureLabelExtractors.role, failures[0])).toBe("gateway");
    expect(extract(bootFailureLabelExtractors.group, failures[0])).toBe("geo-us-east4");
  });

  it("counts nothing of a boot that succeeds", () => {
    const run = withArtifact(new Sandbox()).secret("kong-db-password", "p").secret("notes-db", "n").migrations("0").run(gateway);
    expectStatus(run, 0);
    expect(run.output.split("\n").length).toBeGreaterThan(20);
    expect(counted(run.output)).toEqual([]);
  });
});

describe("the migrator", () => {
  const migrator = script({ kind: "migrator", passwordSecret: secret, databaseCa, adminRequests: requests });
  const sandbox = new Sandbox()
    .secret("kong-db-password", "kong-pass")
    .migrations("3")
    .adminEntity("routes", "old-route", { name: "old-route", tags: ["geo-api-layer"] })
    .adminEntity("plugins", "0000-stale", { name: "ip-restriction", tags: ["geo-api-layer"] });
  const first = sandbox.run(migrator);
  const second = sandbox.run(migrator);

  it("bootstraps a fresh database, upserts every entity, prunes what is no longer configured, and powers off", () => {
    expectStatus(first, 0);
    inOrder(first.calls, [
      "kong migrations list",
      "kong migrations bootstrap",
      "systemctl start kong.service",
      "curl -fsS -o /dev/null -X PUT -H Content-Type: application/json --data",
      "curl -fsS -o /dev/null -X DELETE http://127.0.0.1:8001/plugins/0000-stale",
      "curl -fsS -o /dev/null -X DELETE http://127.0.0.1:8001/routes/old-route",
      "systemctl stop kong.service",
      "systemctl poweroff",
    ]);
    expect(sandbox.adminEntities("services")).toEqual(["echo", "notes"]);
    expect(sandbox.adminEntities("routes")).toEqual(["echo", "geo-api-layer-health", "notes", "notes-internal"]);
    expect(sandbox.adminEntities("plugins")).toEqual(
      [deterministicUuid("ip-restriction:notes-internal"), deterministicUuid("request-termination:geo-api-layer-health")].sort(),
    );
  });

  it("on a second run migrates nothing, deletes nothing, and upserts the same entities", () => {
    expectStatus(second, 0);
    expect(second.calls.some((c) => /^kong migrations (bootstrap|up|finish)/.test(c))).toBe(false);
    expect(second.calls.some((c) => c.includes("-X DELETE"))).toBe(false);
    const puts = (run: typeof first) => run.calls.filter((c) => c.includes("-X PUT"));
    expect(puts(second)).toEqual(puts(first));
    expect(sandbox.adminEntities("routes")).toEqual(["echo", "geo-api-layer-health", "notes", "notes-internal"]);
  });

  it("runs only `up` for new migrations (exit code 5): `finish` would break the fleets still on the old version", () => {
    const run = new Sandbox().secret("kong-db-password", "p").migrations("5").run(migrator);
    expectStatus(run, 0);
    inOrder(run.calls, ["kong migrations list", "kong migrations up", "systemctl poweroff"]);
    expect(run.calls.filter((c) => c.startsWith("kong migrations list"))).toHaveLength(1);
    expect(run.calls.some((c) => c.startsWith("kong migrations finish"))).toBe(false);
    expect(run.output).toContain("the next migrator run finishes them");
  });

  it("finishes pending migrations (exit code 4), where up would refuse to run", () => {
    const run = new Sandbox().secret("kong-db-password", "p").migrations("4").run(migrator);
    expectStatus(run, 0);
    inOrder(run.calls, ["kong migrations list", "kong migrations finish"]);
    expect(run.calls.filter((c) => c.startsWith("kong migrations list"))).toHaveLength(2);
    expect(run.calls.some((c) => c.startsWith("kong migrations up"))).toBe(false);
  });

  it("fails, naming the call, when the Admin API cannot list what to prune", () => {
    const run = new Sandbox({ SANDBOX_ADMIN_LIST_FAILS: "1" }).secret("kong-db-password", "p").migrations("0").run(migrator);
    expectStatus(run, 1);
    expect(run.output).toContain("FAILED: Kong's Admin API failed to list plugins (GET http://127.0.0.1:8001/plugins)");
    expect(run.calls).not.toContain("systemctl poweroff");
  });
});

describe("a gateway with a fallback config", () => {
  const fallbackConfig = renderDeclarativeConfig(entities);
  const withFallback = script({ kind: "shared-db", passwordSecret: secret, databaseCa, fallbackConfig });
  const dropIn = "run/systemd/system/kong.service.d/geo-api-layer-fallback.conf";

  it("starts Kong DB-less from it when the database does not answer within the grace period, and starts the way back", () => {
    const sandbox = newSandbox().migrations("1");
    const run = sandbox.run(withFallback, { GEO_API_LAYER_DATABASE_GRACE_SEC: "0" });
    expectStatus(run, 0);
    expect(run.output).toContain("Kong's database does not answer (kong migrations list: 1: Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: timeout)");
    expect(sandbox.file(dropIn)).toBe("[Service]\nEnvironment=KONG_DATABASE=off\nEnvironment=KONG_DECLARATIVE_CONFIG=/etc/kong/fallback.yaml\n");
    expect(sandbox.file("etc/kong/fallback.yaml")).toBe(fallbackConfig);
    inOrder(run.calls, ["kong migrations list", "systemctl restart kong.service", "curl -fs -o /dev/null --max-time 5 http://127.0.0.1:8000/geo-api-layer/health", "systemctl start geo-kong-database-return.service"]);
  });

  it("keeps waiting, on its database, while the database answers and the migrator has work to do", () => {
    const sandbox = newSandbox().migrations("pending:3");
    const run = sandbox.run(withFallback, { GEO_API_LAYER_DATABASE_GRACE_SEC: "0" });
    expectStatus(run, 0);
    expect(run.calls.filter((c) => c.startsWith("kong migrations list"))).toHaveLength(4);
    expect(sandbox.exists(dropIn)).toBe(false);
    expect(run.calls).not.toContain("systemctl start geo-kong-database-return.service");
  });

  it("goes back onto the database at the next boot when it answers", () => {
    const sandbox = newSandbox().migrations("1");
    sandbox.run(withFallback, { GEO_API_LAYER_DATABASE_GRACE_SEC: "0" });
    sandbox.migrations("0");
    const reboot = sandbox.run(withFallback);
    expectStatus(reboot, 0);
    expect(sandbox.exists(dropIn)).toBe(false);
    expect(reboot.calls).not.toContain("systemctl start geo-kong-database-return.service");
  });
});

describe("a hybrid data plane", () => {
  const fallbackConfig = renderDeclarativeConfig(entities);
  const cluster = { certificate: "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n", keySecret: "projects/proj/secrets/kong-cluster-key" };
  const key = "-----BEGIN PRIVATE KEY-----\nMIG2AgEA\n-----END PRIVATE KEY-----\n";
  const conf = renderKongConf({ proxyPort: 8000, statusPort: 8100, adminPort: 8001, memCacheSize: "128m", trustedIps: ["35.191.0.0/16"], cluster: { role: "data_plane", controlPlane: "10.0.0.9:8005" } });
  const withCluster = renderStartupScript({ role: "gateway", region: "us-east4", debianCodename: "bookworm", kong: { mode: { kind: "data-plane", fallbackConfig }, cluster, conf, version: "3.9.1", packageRepository: kongRepository, proxyPort: 8000, statusPort: 8100, adminPort: 8001 }, services, artifacts: { notes: artifact }, kongUrl: "http://127.0.0.1:8000", project: "proj", bootBudgetSec: 60 });
  const dropIn = "run/systemd/system/kong.service.d/geo-api-layer-fallback.conf";
  const sandbox = () => newSandbox().secret("kong-cluster-key", Buffer.from(key).toString("base64"));

  it("on a new disk (no LMDB yet) starts Kong from the fallback config, and writes the cluster key root-only from Secret Manager", () => {
    const box = sandbox();
    const run = box.run(withCluster);
    expectStatus(run, 0);
    expect(run.output).toContain("no configuration from the control planes on this disk yet: starting from /etc/kong/fallback.yaml");
    expect(box.file(dropIn)).toBe("[Service]\nEnvironment=KONG_DATABASE=off\nEnvironment=KONG_DECLARATIVE_CONFIG=/etc/kong/fallback.yaml\n");
    expect(box.file("etc/kong/fallback.yaml")).toBe(fallbackConfig);
    expect(box.file("etc/kong/cluster.crt")).toBe(cluster.certificate);
    expect(box.file("etc/kong/cluster.key").trimEnd()).toBe(key.trimEnd());
    expect(box.mode("etc/kong/cluster.key")).toBe("600");
    // No database: no password read, no migrations asked, no env file for Kong.
    expect(run.calls.some((c) => c.includes("secrets/kong-db-password") || c.startsWith("kong migrations"))).toBe(false);
    expect(box.file("etc/systemd/system/kong.service")).not.toContain("EnvironmentFile");
  });

  it("after a reboot, with the control planes' last push in LMDB, starts from it instead", () => {
    const box = sandbox();
    box.run(withCluster);
    // What Kong left on the disk once a control plane pushed; /run is empty after a reboot.
    mkdirSync(join(box.root, "usr/local/kong/dbless.lmdb"), { recursive: true });
    writeFileSync(join(box.root, "usr/local/kong/dbless.lmdb/data.mdb"), "pushed");
    rmSync(join(box.root, dropIn));
    const reboot = box.run(withCluster);
    expectStatus(reboot, 0);
    expect(reboot.output).toContain("starting from the configuration the control planes last pushed (/usr/local/kong/dbless.lmdb)");
    expect(box.exists(dropIn)).toBe(false);
  });
});

describe("a DB-less gateway and a standalone service tier", () => {
  it("DB-less: writes the declarative config, touches no database and no Kong secret", () => {
    const dbless = script({ kind: "dbless", declarativeConfig: renderDeclarativeConfig(entities) }, {}, renderKongConf({ proxyPort: 8000, statusPort: 8100, adminPort: 8001, memCacheSize: "128m", trustedIps: ["35.191.0.0/16"], declarativeConfigPath: "/etc/kong/kong.yaml" }));
    const sandbox = newSandbox();
    const run = sandbox.run(dbless);
    expectStatus(run, 0);
    expect(sandbox.file("etc/kong/kong.yaml")).toContain("_format_version: \"3.0\"");
    expect(run.calls.some((c) => c.startsWith("kong "))).toBe(false);
    expect(run.calls.some((c) => c.includes("secrets/kong-db-password"))).toBe(false);
    expect(sandbox.file("etc/systemd/system/kong.service")).not.toContain("EnvironmentFile");
  });

  it("service tier: installs no Kong and points the service at its region's Kong", () => {
    const tier = script(undefined, { kongUrl: "http://10.0.32.7:8000/api/us/east" });
    const sandbox = newSandbox();
    const run = sandbox.run(tier);
    expectStatus(run, 0);
    expect(run.calls.some((c) => c.includes("konghq") || c.includes("kong.service"))).toBe(false);
    expect(sandbox.file("etc/geo-api-layer/notes.env")).toContain('KONG_URL="http://10.0.32.7:8000/api/us/east/echo"');
  });
});

describe("a unit's Exec line", () => {
  it("escapes what systemd would expand or end: `%` specifiers, `$` variables, quotes and backslashes (systemd.service, Command lines)", () => {
    expect(systemdWord(`date +%s; echo "$HOME" \\ 100%20`)).toBe(`"date +%%s; echo \\"$$HOME\\" \\\\ 100%%20"`);
  });
});
