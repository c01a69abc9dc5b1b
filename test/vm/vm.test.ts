/**
 * Every VM role of every topology, booted for real (test/vm/harness.ts): the first boot reaches
 * ready, a reboot reaches ready again without reinstalling, rebuilding or migrating, a killed unit
 * comes back, the load balancer's check never passes before the services answer, and what Kong's
 * own code refuses stops Kong's start. Outages: test/vm/game-days.test.ts.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from "fs";
import { join } from "path";
import { bootFailureLabelExtractors } from "../../components/alerting-rules";
import { kongToolsUnavailable } from "../support/kong-tools";
import { countedFailures, extract } from "../support/logging-query";
import { serverCertificate } from "./cloud-sql";
import { Boot, laterKongVersion, Vm } from "./harness";
import { builderVm, buildsOf, describeVm, echoArgument, echoEnv, echoToken, greeting, harnessFor, proxyProbePath, roles, StackNetwork, unavailable, vmFor } from "./fleet";

if (unavailable) process.stderr.write(`vm harness skipped: ${unavailable}\n`);

jest.setTimeout(1800_000);

const harness = harnessFor("boots");

function expectServing(vm: Vm, boot: Boot): void {
  if (!boot.check?.startup_ok) throw new Error(`the boot script ${boot.hung ? "hung" : "failed"}:\n${boot.startupLog}`);
  expect(vm.spec.ready.length).toBeGreaterThan(0);
  for (const url of vm.spec.ready) expect([url, boot.check!.answers[url]]).toEqual([url, 200]);
  // The load balancer's check passes only once every service on the VM answers.
  const services = Object.keys(vm.spec.services);
  if (vm.spec.loadBalancerCheck && services.length) {
    expect(boot.probe.lb).toBeDefined();
    for (const service of services) expect(boot.probe.lb).toBeGreaterThanOrEqual(boot.probe[service]);
  }
}

function expectNothingRedone(boot: Boot): void {
  expect(boot.startupLog).toContain("packages already installed; skipping to configuration");
  for (const redone of ["installing packages", "artifact gs://", "building ", "bootstrapping", "running new Kong migrations", "finishing pending", "wrote /"]) {
    expect([redone, boot.startupLog.includes(redone)]).toEqual([redone, false]);
  }
}

function expectKilledUnitsRestart(vm: Vm, boot: Boot): void {
  expect(vm.spec.kill.length).toBeGreaterThan(0);
  for (const { unit } of vm.spec.kill) {
    expect([unit, boot.check!.kills[unit]]).toEqual([unit, expect.objectContaining({ restarts: 1, answers_again: true })]);
  }
}

/** What every VM that serves must show, on its first boot and on a reboot. */
function servingVmTests(role: string, get: () => { vm: Vm; first: Boot; reboot: Boot }): void {
  it(`${role}: the first boot reaches ready, and the load balancer's check passes only after the services answer`, () => {
    expectServing(get().vm, get().first);
  });

  it(`${role}: killed units are restarted by systemd`, () => {
    expectKilledUnitsRestart(get().vm, get().first);
  });

  it(`${role}: a reboot reaches ready again, reinstalling, rebuilding and migrating nothing`, () => {
    expectServing(get().vm, get().reboot);
    expectNothingRedone(get().reboot);
  });

  it(`${role}: no access token on a command line, and every secret read with the VM's token`, () => {
    expectSecretsReadSafely(get().vm);
  });
}

function expectSecretsReadSafely(vm: Vm): void {
  const accesses = vm.secretAccesses();
  expect(accesses.length).toBeGreaterThan(0);
  for (const access of accesses) expect(access).toMatchObject({ token_ok: true, token_on_command_line: false });
}

/** What every VM with Kong must show. */
function kongVmTests(role: string, get: () => { vm: Vm; first: Boot }): void {
  it(`${role}: Kong's nginx error and access logs reach the journal`, () => {
    expect(get().first.kongLog).toMatch(/\[notice\] \d+#\d+: nginx\//);
    expect(get().first.kongLog).toContain(`"GET ${proxyProbePath} HTTP/1.1" 404`);
  });

  it(`${role}: Kong logs the client Google's front end saw, never an address the client wrote`, () => {
    const forwarded = get().vm.spec.forwarded ?? [];
    expect(forwarded).toHaveLength(3);
    for (const { path, logged } of forwarded) {
      const line = get().first.kongLog.split("\n").find((l) => l.includes(`"GET ${path} HTTP/1.1"`));
      expect([path, line?.split(" ")[0]]).toEqual([path, logged]);
    }
  });

  it(`${role}: Kong's nginx keeps idle client connections longer than Google's load balancers (600 s)`, () => {
    // Real nginx started on this nginx.conf (its notice reached the journal), so it took the directive.
    const keepalive = /^\s*keepalive_timeout (\d+)s;$/m.exec(get().vm.file("usr/local/kong/nginx.conf"));
    expect(Number(keepalive?.[1])).toBeGreaterThan(600);
  });

  it(`${role}: Kong Manager does not listen`, () => {
    expect(get().vm.file("usr/local/kong/nginx.conf")).toMatch(/listen 0\.0\.0\.0:8000;/);
    expect(get().vm.file("usr/local/kong/nginx.conf")).not.toMatch(/listen 0\.0\.0\.0:(8002|8445)/);
  });
}

/** Kong's database password, on a VM that reads it from Secret Manager. */
function kongPasswordTests(role: string, get: () => { vm: Vm }): void {
  it(`${role}: Kong's password is only in its root-only env file, not in .kong_env, and nginx's init consumed the resolved secrets`, () => {
    const { vm } = get();
    expect(vm.file("usr/local/kong/.kong_env")).toContain("pg_password = {vault://env/geo-kong-pg-password}");
    expect(vm.file("usr/local/kong/.kong_env")).not.toContain("pw");
    expect(vm.mode("etc/kong/kong.env")).toBe("600");
    // kong prepare writes .kong_process_secrets_http (0600) and nginx's init deletes it (prefix_handler.lua, conf_loader/init.lua at 3.9.1).
    expect(vm.exists("usr/local/kong/.kong_process_secrets_http")).toBe(false);
  });
}

const timings: string[] = [];
const timed = (label: string, boot: Boot) => {
  timings.push(`${label}: ${boot.seconds.toFixed(1)} s`);
  return boot;
};
afterAll(() => {
  if (timings.length) process.stderr.write(`vm harness boot times (container start to power-off):\n  ${timings.join("\n  ")}\n`);
});

describeVm("shared-db (us-multi): the migrator, then a gateway, on a real PostgreSQL", () => {
  let network: StackNetwork;
  let migrator: Vm;
  let gateway: Vm;
  let newGateway: Vm;
  const boots: Record<string, Boot> = {};
  const schemaAfter: Record<string, { executed: string[]; pending: string[] }> = {};

  beforeAll(async () => {
    const r = await roles(harness, "us-multi");
    network = new StackNetwork(join(harness.work, "shared-db-network"), r);
    migrator = vmFor(harness, "shared-db-migrator", r.scripts.migrator, r, network.vmHost("migrator", "us-central1"), false);
    boots.migratorFirst = timed("shared-db migrator, first boot", migrator.boot());
    boots.migratorReboot = timed("shared-db migrator, reboot", migrator.boot());
    gateway = vmFor(harness, "shared-db-gateway", r.byRegion.gateway["us-central1"], r, network.vmHost("gateway", "us-central1"), true);
    boots.gatewayFirst = timed("shared-db gateway, first boot", gateway.boot({ kill: true }));
    boots.gatewayReboot = timed("shared-db gateway, reboot", gateway.boot());
    // Someone else's server at the primary's address: a certificate no CA of the stack signed.
    const impostor = join(harness.work, "shared-db-impostor-tls");
    serverCertificate(impostor);
    network.primary!.serveCertificate(impostor);
    boots.gatewayImpostor = timed("shared-db gateway, impostor database", gateway.boot());
    network.primary!.serveCertificate(join(harness.work, "shared-db-network", "tls"));
    // An earlier `up` whose `finish` never ran (023), plus a migration never run (024).
    const { executed } = network.schemaState();
    network.primary!.psql(`UPDATE schema_meta SET state = :'state'`, { state: JSON.stringify({ executed: executed.slice(0, -2), pending: [executed.at(-2)] }) }, "kong");
    boots.migratorPending = timed("shared-db migrator, pending migrations", migrator.boot());
    schemaAfter.pending = network.schemaState();
    boots.migratorFinish = timed("shared-db migrator, finishing", migrator.boot());
    schemaAfter.finish = network.schemaState();
    // An upgrade whose migrations differ: the migrator of the later Kong takes its new migration up
    // only; gateways of both versions start on that schema; the migrator's next run finishes it.
    const later = await roles(harness, "us-multi", { kong: { version: laterKongVersion } });
    const upgrader = vmFor(harness, "shared-db-migrator-later", later.scripts.migrator, later, network.vmHost("migrator-later", "us-central1"), false);
    boots.upgradeUp = timed("shared-db migrator of the later Kong, up", upgrader.boot());
    schemaAfter.upgradeUp = network.schemaState();
    boots.oldGatewayDuringUpgrade = timed("shared-db gateway, old Kong during the upgrade", gateway.boot());
    newGateway = vmFor(harness, "shared-db-gateway-later", later.byRegion.gateway["us-central1"], later, network.vmHost("gateway-later", "us-central1"), true);
    boots.newGatewayDuringUpgrade = timed("shared-db gateway, later Kong during the upgrade", newGateway.boot());
    boots.upgradeFinish = timed("shared-db migrator of the later Kong, finish", upgrader.boot());
    schemaAfter.upgradeFinish = network.schemaState();
  });

  afterAll(() => network?.destroy());

  it("migrator: bootstraps the database, writes Kong's entities, and powers off", () => {
    expect(boots.migratorFirst.startupLog).toContain("bootstrapping Kong's database");
    expect(boots.migratorFirst.startupLog).toMatch(/migrations and Kong entities applied in \d+ s; powering off/);
    expect(network.entities()).toEqual(expect.arrayContaining(["services/echo", "routes/echo", "routes/echo-internal", "routes/geo-api-layer-health"]));
  });

  it("migrator: Kong's CLI runs with Kong's open-file limit, so it never warns about it", () => {
    // What `kong migrations bootstrap`, `finish` and `up` print reaches the boot's log.
    expect(boots.migratorFirst.startupLog).toContain("bootstrapping Kong's database");
    expect(boots.migratorPending.startupLog).toContain("running new Kong migrations");
    for (const boot of [boots.migratorFirst, boots.migratorPending]) expect(boot.startupLog).not.toContain("ulimit is currently set");
  });

  it("migrator: a rerun installs and migrates nothing", () => {
    expectNothingRedone(boots.migratorReboot);
    expect(boots.migratorReboot.startupLog).toContain("Kong's database schema is up to date");
  });

  it("migrator: finishes an earlier run's pending migrations (exit code 4), takes the new ones `up` only, and finishes them on its next run", () => {
    expect(boots.migratorPending.startupLog).toContain("finishing pending Kong migrations");
    expect(boots.migratorPending.startupLog).toContain("running new Kong migrations");
    // The migrator powers itself off, so the runner may not live to log the script's exit status.
    expect(boots.migratorPending.startupLog).toMatch(/migrations and Kong entities applied in \d+ s; powering off/);
    expect(schemaAfter.pending.pending).toEqual(["024_380_to_390"]);
    expect(boots.migratorFinish.startupLog).toContain("finishing pending Kong migrations");
    expect(schemaAfter.finish).toEqual({ executed: expect.arrayContaining(["023_360_to_370", "024_380_to_390"]), pending: [] });
  });

  it("an upgrade whose migrations differ: `up` only, gateways of both versions serve, the next migrator run finishes", () => {
    // `finish` would make the database "incompatible with the previous Kong version" (kong/cmd/migrations.lua).
    expect(boots.upgradeUp.startupLog).toContain("the next migrator run finishes them");
    expect(schemaAfter.upgradeUp.pending).toEqual(["025_390_to_3100"]);
    expectServing(gateway, boots.oldGatewayDuringUpgrade);
    expect(boots.oldGatewayDuringUpgrade.startupLog).toContain("Kong's database schema is up to date (kong migrations list: 0)");
    expectServing(newGateway, boots.newGatewayDuringUpgrade);
    expect(boots.newGatewayDuringUpgrade.startupLog).toContain("Kong's database schema is up to date (kong migrations list: 4)");
    expect(boots.upgradeFinish.startupLog).toContain("finishing pending Kong migrations");
    expect(schemaAfter.upgradeFinish).toEqual({ executed: expect.arrayContaining(["025_390_to_3100"]), pending: [] });
  });

  servingVmTests("gateway", () => ({ vm: gateway, first: boots.gatewayFirst, reboot: boots.gatewayReboot }));

  it("gateway: refuses a database whose certificate the instance's CA did not sign, and serves from its fallback config", () => {
    // pg_ssl_verify: Kong checks the server's chain against the Cloud SQL CA the boot script wrote.
    expect(boots.gatewayImpostor.startupLog).toMatch(/Kong's database does not answer \(kong migrations list: 1: .*certificate verify failed/);
    expect(boots.gatewayImpostor.startupLog).toContain("starting Kong without its database");
    expectServing(gateway, boots.gatewayImpostor);
  });

  kongVmTests("gateway", () => ({ vm: gateway, first: boots.gatewayFirst }));
  kongPasswordTests("gateway", () => ({ vm: gateway }));
  kongPasswordTests("migrator", () => ({ vm: migrator }));

  it("gateway: the service sees its env values, secrets and arguments exactly, `$`, `%` and backticks included", () => {
    const env = JSON.parse(boots.gatewayFirst.check!.bodies[echoEnv]);
    expect(env).toMatchObject({ GREETING: greeting, ECHO_TOKEN: echoToken, KONG_URL: "http://127.0.0.1:8000/echo", REGION: expect.stringMatching(/^us-/) });
    // Its command line reached it through the unit's Exec line unchanged: systemd expands `%` specifiers and `$` variables.
    expect(env.ARGV).toEqual([echoArgument]);
  });

  it("migrator: no access token on a command line, and every secret read with the VM's token", () => {
    expectSecretsReadSafely(migrator);
  });
});

/** A colocated gateway of `stack`, booted twice (the first time with the kill test), and what every one must show. */
function gatewayTests(stack: string, label: string): { vm: Vm; first: Boot; reboot: Boot } {
  const gateway = {} as { vm: Vm; first: Boot; reboot: Boot };
  let network: StackNetwork;
  beforeAll(async () => {
    const r = await roles(harness, stack);
    network = new StackNetwork(join(harness.work, `${label}-network`), r);
    gateway.vm = vmFor(harness, `${label}-gateway`, r.scripts.gateway, r, network.vmHost("gateway", "us-central1"), true);
    gateway.first = timed(`${label} gateway, first boot`, gateway.vm.boot({ kill: true }));
    gateway.reboot = timed(`${label} gateway, reboot`, gateway.vm.boot());
  });
  afterAll(() => network?.destroy());
  servingVmTests("gateway", () => gateway);
  kongVmTests("gateway", () => gateway);
  return gateway;
}

describeVm("sidecar (us-sidecar): a gateway with its own PostgreSQL", () => {
  const gateway = gatewayTests("us-sidecar", "sidecar");

  it("gateway: the load balancer's check passes only once Kong's entities are written and routed", () => {
    // The health route is written last (startup/kong-entities.ts adminRequests); Kong's /status/ready
    // passes as soon as Kong built its router, before the first entity (Kong's admin access log) is written.
    const firstWrite = gateway.vm.journalTime(/"PUT \/services\//, 1);
    expect(firstWrite).toBeDefined();
    expect(gateway.first.probe.lb).toBeGreaterThan(firstWrite!);
  });

  it("gateway: creates the kong role and database in the real PostgreSQL, and Kong bootstraps it", () => {
    expect(gateway.first.startupLog).toContain("local PostgreSQL has the kong role and database");
    expect(gateway.first.startupLog).toContain("bootstrapping Kong's database");
    expect(gateway.reboot.startupLog).toContain("Kong's database schema is up to date");
  });
});

describeVm("dbless (us-dbless): a gateway from its declarative config", () => {
  gatewayTests("us-dbless", "dbless");
});

const kongToolsMissing = unavailable ? undefined : kongToolsUnavailable();
if (kongToolsMissing) process.stderr.write(`vm harness: Kong's refusals at start skipped: ${kongToolsMissing}\n`);
(kongToolsMissing ? describe.skip : describeVm)("what Kong's own code refuses stops Kong's start (../shared/kong-check bound in)", () => {
  let network: StackNetwork;
  const boots: Record<string, Boot> = {};

  beforeAll(async () => {
    const r = await roles(harness, "us-dbless");
    network = new StackNetwork(join(harness.work, "refused-network"), r);
    // A short boot budget: the boot fails once its wait for Kong's routes runs out.
    const script = r.scripts.gateway.replace(/^readonly BOOT_BUDGET_SEC=\d+$/m, "readonly BOOT_BUDGET_SEC=60");
    const vm = vmFor(harness, "refused-gateway", script.replace("\nadmin_gui_listen = off\n", "\nadmin_gui_listen = off\nrole = data_plane\n"), r, network.vmHost("refused", "us-central1"), true, { forwarded: [], kill: [] });
    boots.conf = timed("refused kong.conf", vm.boot());
    vm.setScript(script.replace(/^( +)- 127\.0\.0\.1$/m, "$1- 127.0.0.1\n$1- not-an-address"));
    boots.declarative = timed("refused declarative config", vm.boot());
  });

  afterAll(() => network?.destroy());

  it("a kong.conf Kong's loader refuses: Kong does not start, with Kong's message, and the boot fails", () => {
    expect(boots.conf.kongUnitLog).toContain("cluster certificate and key must be provided to use Hybrid mode");
    expect(boots.conf.check?.startup_ok).toBe(false);
    expect(boots.conf.startupLog).toMatch(/FAILED: line \d+: systemctl "\$action" kong.service exited with status 1/);
    // The journal as the guest agent logs it to Cloud Logging: the boot-failure alert's metric counts the failure, and only it.
    const counted = countedFailures(boots.conf.startupLog.split("\n"), "offline-plan-project", { name: "refused-gateway", group: "geo-us-central1" });
    expect(counted.length).toBeGreaterThan(0);
    expect(counted.map((e) => e.jsonPayload.message)).toEqual(boots.conf.startupLog.split("\n").filter((line) => line.includes(": FAILED: ")));
    expect(counted[0].jsonPayload.message).toMatch(/^startup-script: geo-api-layer\[gateway\]: FAILED: /);
    expect(extract(bootFailureLabelExtractors.role, counted[0])).toBe("gateway");
  });

  it("a declarative config Kong's parser refuses: Kong does not start, with Kong's message, and the boot fails", () => {
    expect(boots.declarative.kongUnitLog).toContain("error parsing declarative config file /etc/kong/kong.yaml");
    expect(boots.declarative.kongUnitLog).toContain("invalid ip or cidr range: 'not-an-address'");
    expect(boots.declarative.check?.startup_ok).toBe(false);
  });
});

describeVm("standalone (us-standalone): the migrator, a Kong tier and a service tier", () => {
  let kongTier: Vm;
  let serviceTier: Vm;
  let network: StackNetwork;
  const boots: Record<string, Boot> = {};

  beforeAll(async () => {
    const r = await roles(harness, "us-standalone", { entryService: "echo" });
    network = new StackNetwork(join(harness.work, "standalone-network"), r);
    const migrator = vmFor(harness, "standalone-migrator", r.scripts.migrator, r, network.vmHost("migrator", "us-central1"), false);
    boots.migrator = timed("standalone migrator, first boot", migrator.boot());
    kongTier = vmFor(harness, "standalone-kong-tier", r.byRegion["kong-tier"]["us-central1"], r, network.vmHost("kong-tier", "us-central1"), false);
    boots.kongFirst = timed("standalone kong tier, first boot", kongTier.boot({ kill: true }));
    boots.kongReboot = timed("standalone kong tier, reboot", kongTier.boot());
    // Its grant still propagating: Secret Manager refuses the first read.
    serviceTier = vmFor(harness, "standalone-service-tier", r.byRegion["service-tier"]["us-central1"], r, network.vmHost("service-tier", "us-central1"), true, { refusedSecretReads: 1 });
    boots.serviceFirst = timed("standalone service tier, first boot", serviceTier.boot({ kill: true }));
    boots.serviceReboot = timed("standalone service tier, reboot", serviceTier.boot());
  });

  afterAll(() => network?.destroy());

  it("migrator: migrates and writes the regional routes", () => {
    expect(boots.migrator.startupLog).toMatch(/migrations and Kong entities applied in \d+ s; powering off/);
    expect(network.entities().filter((key) => key.startsWith("routes/")).length).toBeGreaterThan(0);
  });

  servingVmTests("kong tier", () => ({ vm: kongTier, first: boots.kongFirst, reboot: boots.kongReboot }));
  kongVmTests("kong tier", () => ({ vm: kongTier, first: boots.kongFirst }));
  kongPasswordTests("kong tier", () => ({ vm: kongTier }));
  servingVmTests("service tier", () => ({ vm: serviceTier, first: boots.serviceFirst, reboot: boots.serviceReboot }));

  it("service tier: waits out a refused secret read (403) while its grant propagates", () => {
    expect(boots.serviceFirst.startupLog).toMatch(/secret projects\/\S+\/secrets\/echo-token\/versions\/latest not readable yet \(HTTP 403/);
  });
});

describeVm("build once (us-dbless): the builder stores the artifact, a gateway boots from it", () => {
  let network: StackNetwork;
  let gateway: Vm;
  const boots: Record<string, Boot> = {};
  /** A folder of Cloud Storage's objects of its own: the builder's first boot, and a corrupted copy. */
  const storage = (name: string) => join(harness.work, `storage-${name}`);
  const artifactOf = (script: string) => {
    const [, bucket, object, generation] = /^\s*install_artifact 'echo' '([^']+)' '([^']+)' '(\d+)'/m.exec(script)!;
    return { bucket, object, generation };
  };
  let builderScript: string;
  let gatewayScript: string;

  beforeAll(async () => {
    const r = await roles(harness, "us-dbless");
    builderScript = r.scripts.builder;
    gatewayScript = r.scripts.gateway;
    network = new StackNetwork(join(harness.work, "build-once-network"), r);
    // The builder, for real, into an empty Cloud Storage; then a second builder VM on what it stored.
    for (const boot of ["builderFirst", "builderAgain"]) {
      mkdirSync(storage("builder"), { recursive: true });
      const vm = builderVm({ ...harness, storage: storage("builder") }, `build-once-${boot}`, builderScript, network.vmHost(boot, "us-central1"));
      boots[boot] = timed(`builder (${boot})`, vm.boot());
    }
    // A build that fails (its command, swapped in the builder's script), into an empty bucket.
    mkdirSync(storage("failing"));
    const failing = builderScript.replace("'python3 -m py_compile server.py'", `'echo "SyntaxError: invalid syntax (server.py, line 1)" >&2; exit 3'`);
    expect(failing).not.toBe(builderScript);
    boots.builderFailing = timed("builder, a failing build", builderVm({ ...harness, storage: storage("failing") }, "build-once-failing", failing, network.vmHost("failing", "us-central1")).boot());
    gateway = vmFor(harness, "build-once-gateway", gatewayScript, r, network.vmHost("gateway", "us-central1"), true);
    boots.gateway = timed("gateway from the artifact, first boot", gateway.boot());
    // Bytes that are not the builder's, at the generation the template names.
    const { bucket, object } = artifactOf(gatewayScript);
    cpSync(harness.storage, storage("corrupt"), { recursive: true });
    appendFileSync(join(storage("corrupt"), bucket, object), "tampered");
    const corrupt = vmFor(harness, "build-once-corrupt", gatewayScript, r, network.vmHost("corrupt", "us-central1"), true, { storage: storage("corrupt") });
    boots.corrupt = timed("gateway with a corrupted artifact", corrupt.boot());
    // No artifact at all (the builder never stored it), and a boot budget a test can wait out.
    mkdirSync(storage("empty"));
    const short = gatewayScript.replace(/^readonly BOOT_BUDGET_SEC=\d+$/m, "readonly BOOT_BUDGET_SEC=45");
    const missing = vmFor(harness, "build-once-missing", short, r, network.vmHost("missing", "us-central1"), true, { storage: storage("empty") });
    boots.missing = timed("gateway without its artifact", missing.boot());
  });

  afterAll(() => network?.destroy());

  it("the builder builds as its own user, stores the artifact (never over another) and its manifest, and powers off", () => {
    const { startupLog } = boots.builderFirst;
    const { bucket, keys } = buildsOf(builderScript);
    expect(keys).toHaveLength(1);
    expect(startupLog).toMatch(/building echo-[0-9a-f]{12}-[0-9a-f]{24}: python3 -m py_compile server.py/);
    expect(startupLog).toMatch(/stored gs:\/\/builds-geo-offline-plan-project\/builds\/echo-\S+\.tar\.gz#\d+ \(sha256 [0-9a-f]{64}, \d+ bytes\)/);
    expect(startupLog).toMatch(/builds done in \d+ s, 0 failed; powering off/);
    const manifest = JSON.parse(readFileSync(join(storage("builder"), bucket, "builds", `${keys[0]}.json`), "utf8"));
    const artifact = readFileSync(join(storage("builder"), bucket, manifest.object));
    expect(manifest.sha256).toBe(createHash("sha256").update(artifact).digest("hex"));
    expect(manifest.generation).toBe(readFileSync(join(storage("builder"), ".generations", bucket, manifest.object), "utf8"));
    // What the artifact holds: the listed file at its path, owned by root, nothing else.
    const listing = execFileSync("tar", ["-tvzf", "-"], { input: artifact, encoding: "utf8" }).trim().split("\n");
    expect(listing.map((l) => [l.split(/\s+/)[1], l.split(/\s+/).pop()])).toEqual([["0/0", "server.py"]]);
  });

  it("a failed build stores its last lines where `pulumi up` looks, no artifact and no manifest, and the builder powers off", () => {
    const { bucket, keys } = buildsOf(builderScript);
    const failures = join(storage("failing"), bucket, "builds", `${keys[0]}.failed`);
    if (!existsSync(failures)) throw new Error(`no failure stored; the builder's log:\n${boots.builderFailing.startupLog}`);
    const logs = readdirSync(failures);
    expect(logs).toEqual([expect.stringMatching(/^\d+\.log$/)]);
    expect(readFileSync(join(failures, logs[0]), "utf8")).toContain("SyntaxError: invalid syntax (server.py, line 1)");
    expect(existsSync(join(storage("failing"), bucket, "builds", `${keys[0]}.json`))).toBe(false);
    expect(existsSync(join(storage("failing"), bucket, "builds", `${keys[0]}.tar.gz`))).toBe(false);
    expect(boots.builderFailing.startupLog).toMatch(new RegExp(`FAILED: the build of ${keys[0]} \\(exit status 1\\); its last lines are in gs://${bucket}/builds/${keys[0]}\\.failed/\\d+\\.log`));
    expect(boots.builderFailing.startupLog).toMatch(/builds done in \d+ s, 1 failed; powering off/);
  });

  it("a builder that boots again finds its build stored and builds nothing", () => {
    expect(boots.builderAgain.startupLog).toMatch(/echo-\S+ \(echo\) is stored; nothing to build/);
    expect(boots.builderAgain.startupLog).not.toContain("building ");
  });

  it("a gateway boots to ready from the artifact: downloaded with its own token, the runtime only, no git, no build", () => {
    expectServing(gateway, boots.gateway);
    const { bucket, object, generation } = artifactOf(gatewayScript);
    expect(boots.gateway.startupLog).toContain(`installed echo's artifact gs://${bucket}/${object}#${generation}`);
    expect(boots.gateway.startupLog).not.toContain("building ");
    expect(gateway.file("opt/geo-api-layer/echo/app/server.py")).toBe(readFileSync(join(__dirname, "echo-service", "server.py"), "utf8"));
    expect(gateway.exists("usr/bin/git")).toBe(false);
    const calls = readFileSync(join(gateway.root, "var/lib/harness/storage-access.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(calls).toEqual([{ call: `GET /storage/v1/b/${bucket}/o/${encodeURIComponent(object)}?alt=media&generation=${generation}`, token_ok: true }]);
  });

  it("a corrupted artifact fails the boot at once with a line naming it, before any service starts", () => {
    const { bucket, object, generation } = artifactOf(gatewayScript);
    expect(boots.corrupt.check?.startup_ok).toBe(false);
    expect(boots.corrupt.startupLog).toMatch(new RegExp(`FAILED: echo's artifact gs://${bucket}/${object.replace(/[.]/g, "\\.")}#${generation} is corrupt: its SHA-256 is [0-9a-f]{64}, the builder stored [0-9a-f]{64}`));
    expect(boots.corrupt.startupLog).not.toContain("echo is ready");
  });

  it("a missing artifact is waited for, then fails the boot within its budget, naming it", () => {
    const { bucket, object, generation } = artifactOf(gatewayScript);
    const name = `gs://${bucket}/${object}#${generation}`;
    expect(boots.missing.check?.startup_ok).toBe(false);
    expect(boots.missing.startupLog).toContain(`echo's artifact ${name} not readable yet (HTTP 404`);
    expect(boots.missing.startupLog).toContain(`FAILED: echo's artifact ${name} still unreadable (HTTP 404) 45 s after boot`);
    expect(boots.missing.seconds).toBeLessThan(45 + 60);
  });
});
