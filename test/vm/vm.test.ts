/**
 * Every VM role of every topology, booted for real (test/vm/harness.ts): the first boot reaches
 * ready, a reboot reaches ready again without reinstalling, rebuilding or migrating, a killed unit
 * comes back, and the load balancer's check never passes before the services answer.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { fleets, inputsOfType } from "../../plan/fleet";
import { filesWrittenBy } from "../../startup/startup-script";
import { kongConfValue, kongPasswordVariable } from "../../startup/kong-conf";
import { recordStack } from "../support/stack";
import { baseRootfs, Boot, harnessUnavailable, prepareStandins, Standins, Vm, VmSpec } from "./harness";

const unavailable = harnessUnavailable();
const describeVm = unavailable ? describe.skip : describe;
if (unavailable) process.stderr.write(`vm harness skipped: ${unavailable}\n`);

jest.setTimeout(1800_000);

// Values that systemd and bash would read differently: one parser must see them everywhere.
const kongPassword = "kong$HOME`id`'\"\\pw";
const echoToken = "tok$PATH`date`";
const greeting = "costs $5 `date` \"quoted\" \\ back";

const work = unavailable ? "" : mkdtempSync(join(tmpdir(), "vm-harness-"));
let base = "";
let standins: Standins;

beforeAll(() => {
  if (unavailable) return;
  base = baseRootfs();
  standins = prepareStandins(join(work, "standins"));
}, 900_000);

afterAll(() => {
  if (work && !process.env.GEO_VM_KEEP) rmSync(work, { recursive: true, force: true });
});

const echoPort = 9002;
const echoHealth = `http://127.0.0.1:${echoPort}/healthz`;
const echoEnv = `http://127.0.0.1:${echoPort}/env`;

/** `internalRoute: false` for standalone, where echo is the entry service, which may not own one. */
const echoService = ({ internalRoute = true } = {}) => ({
  name: "echo",
  port: echoPort,
  healthPath: "/healthz",
  env: { PORT: String(echoPort), GREETING: greeting, KONG_URL: "{{kong}}/echo" },
  secretEnv: { ECHO_TOKEN: "echo-token" },
  routes: [{ name: "echo", paths: ["/echo"] }, ...(internalRoute ? [{ name: "echo-internal", paths: ["/echo-internal"], internal: true }] : [])],
  run: {
    kind: "git",
    repository: standins.echoRepository,
    ref: standins.echoRef,
    packages: ["python3"],
    build: "python3 -m py_compile server.py",
    command: "python3 server.py",
  },
});

interface Roles {
  /** Role name (`gateway`, `kong-tier`, `service-tier`, `migrator`) to its boot script. */
  scripts: Record<string, string>;
  /** The load balancer's health check (port and path) and its address. */
  loadBalancer: { port: number; requestPath: string; address: string };
}

/** The example stack, with the test service and the local Kong repository, as the program renders it. */
async function roles(stack: string, overrides: Record<string, unknown> = {}): Promise<Roles> {
  const recording = await recordStack(stack, {
    ...overrides,
    // In standalone echo is the entry service, which faces the load balancer without Kong.
    services: [echoService({ internalRoute: stack !== "us-standalone" })],
    // The test service stores no pictures.
    pictures: null,
    kong: { packageRepository: { url: "https://kong-packages.test/public/gateway-39", keyFingerprint: standins.kongKeyFingerprint } },
  });
  if (recording.errors.length) throw new Error(recording.errors.join("\n"));
  const scripts: Record<string, string> = {};
  for (const fleet of fleets(recording.resources)) scripts[fleet.role] ??= fleet.script;
  const migrator = inputsOfType(recording.resources, "compute/instance:Instance")[0];
  if (migrator) scripts.migrator = migrator.metadataStartupScript;
  const check = recording.resources.find((r) => r.type === "gcp:compute/healthCheck:HealthCheck" && r.parent?.includes("GlobalLoadBalancer"));
  const forwardingRule = inputsOfType(recording.resources, "compute/globalForwardingRule:GlobalForwardingRule")[0];
  const { port, requestPath } = (check!.inputs as { httpHealthCheck: Roles["loadBalancer"] }).httpHealthCheck;
  return { scripts, loadBalancer: { port, requestPath, address: forwardingRule.ipAddress } };
}

/** The secrets a script reads, by id, with the values above. */
function secretsOf(script: string): Record<string, string> {
  const values: Record<string, string> = { [kongPasswordVariable]: kongPassword, ECHO_TOKEN: echoToken };
  return Object.fromEntries(
    [...script.matchAll(/secret_env_line (\w+) 'projects\/[^/]+\/secrets\/([^/]+)\/versions\/latest'/g)].map(([, variable, id]) => [id, values[variable]]),
  );
}

const kongConf = (script: string) => filesWrittenBy(script)["/etc/kong/kong.conf"] ?? "";

/** A stand-in Cloud SQL at the script's pg_host, expecting the password from Secret Manager. */
function cloudSql(databaseDir: string, script: string, state: Record<string, unknown>): string {
  const dir = join(databaseDir, kongConfValue(kongConf(script), "pg_host")!);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "state.json"), JSON.stringify({ password: kongPassword, ...state }));
  return dir;
}

const dbState = (dir: string) => JSON.parse(readFileSync(join(dir, "state.json"), "utf8"));
const dbEntities = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, "entities.json"), "utf8"));

/** Path of a request through Kong's proxy listener, which Kong's access log records. */
const proxyProbePath = "/harness-probe";

/**
 * Requests as Google's front ends forward them (from their range, `<what the client sent>, <client>,
 * <load balancer>`) and one straight from a client; the address Kong logs for each.
 */
function forwardedRequests(conf: string, loadBalancer: string): NonNullable<VmSpec["forwarded"]> {
  const port = Number(kongConfValue(conf, "proxy_listen")!.split(":")[1]);
  const frontEnd = "35.191.0.9";
  return [
    { source: frontEnd, port, path: "/harness-forwarded/client", xff: `198.51.100.7, ${loadBalancer}`, logged: "198.51.100.7" },
    { source: frontEnd, port, path: "/harness-forwarded/forged", xff: `10.0.0.5, ${loadBalancer}, 198.51.100.8, ${loadBalancer}`, logged: "198.51.100.8" },
    { source: "192.0.2.50", port, path: "/harness-forwarded/direct", xff: "10.0.0.5", logged: "192.0.2.50" },
  ];
}

/** A VM running `script`; `services` when the echo service runs on it. */
function vmFor(name: string, script: string, databaseDir: string, roles: Roles, services: boolean, extra: Partial<VmSpec> = {}): Vm {
  const port = (key: string) => kongConfValue(kongConf(script), key)?.split(":")[1];
  const status = port("status_listen");
  const kongReady = `http://127.0.0.1:${status}/status/ready`;
  const spec: VmSpec = {
    script,
    secrets: secretsOf(script),
    databaseDir,
    loadBalancerCheck: status && roles.loadBalancer.port === Number(status) ? `http://127.0.0.1:${status}${roles.loadBalancer.requestPath}` : undefined,
    services: services ? { echo: echoHealth } : {},
    ready: [...(status ? [kongReady] : []), ...(services ? [echoHealth] : [])],
    kill: [...(services ? [{ unit: "geo-svc-echo.service", url: echoHealth }] : []), ...(status ? [{ unit: "kong.service", url: kongReady }] : [])],
    fetch: [...(services ? [echoEnv] : []), ...(status ? [`http://127.0.0.1:${port("proxy_listen")}${proxyProbePath}`] : [])],
    forwarded: status ? forwardedRequests(kongConf(script), roles.loadBalancer.address) : [],
    ...extra,
  };
  return new Vm(join(work, name), base, standins, spec);
}

/** What every first boot and reboot of a serving VM must show. */
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
  for (const redone of ["installing packages", "building ", "bootstrapping", "running new Kong migrations", "finishing pending", "wrote /"]) {
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

  it(`${role}: Kong Manager does not listen`, () => {
    expect(get().vm.file("usr/local/kong/nginx.conf")).toMatch(/listen 0\.0\.0\.0:8000;/);
    expect(get().vm.file("usr/local/kong/nginx.conf")).not.toMatch(/listen 0\.0\.0\.0:(8002|8445)/);
  });
}

/** Kong's database password, on a VM that reads it from Secret Manager. */
function kongPasswordTests(role: string, get: () => { vm: Vm }): void {
  it(`${role}: Kong's password is only in root-only files, not in .kong_env`, () => {
    const { vm } = get();
    expect(vm.file("usr/local/kong/.kong_env")).toContain("pg_password = {vault://env/geo-kong-pg-password}");
    expect(vm.file("usr/local/kong/.kong_env")).not.toContain("pw");
    expect(vm.mode("etc/kong/kong.env")).toBe("600");
    expect(vm.mode("usr/local/kong/.kong_process_secrets")).toBe("600");
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

describeVm("shared-db (us-multi): the migrator, then a gateway", () => {
  let dbDir: string;
  let migrator: Vm;
  let gateway: Vm;
  const boots: Record<string, Boot> = {};

  beforeAll(async () => {
    const r = await roles("us-multi");
    const databaseDir = join(work, "shared-db-database");
    dbDir = cloudSql(databaseDir, r.scripts.migrator, {});
    migrator = vmFor("shared-db-migrator", r.scripts.migrator, databaseDir, r, false);
    boots.migratorFirst = timed("shared-db migrator, first boot", migrator.boot());
    boots.migratorReboot = timed("shared-db migrator, reboot", migrator.boot());
    gateway = vmFor("shared-db-gateway", r.scripts.gateway, databaseDir, r, true);
    boots.gatewayFirst = timed("shared-db gateway, first boot", gateway.boot({ kill: true }));
    boots.gatewayReboot = timed("shared-db gateway, reboot", gateway.boot());
    // An earlier `up` whose `finish` never ran, plus new migrations: the next migrator run completes both.
    writeFileSync(join(dbDir, "state.json"), JSON.stringify({ ...dbState(dbDir), pending: true, new: true }));
    boots.migratorPending = timed("shared-db migrator, pending migrations", migrator.boot());
  });

  it("migrator: bootstraps the database, writes Kong's entities, and powers off", () => {
    expect(boots.migratorFirst.startupLog).toContain("bootstrapping Kong's database");
    expect(boots.migratorFirst.startupLog).toMatch(/migrations and Kong entities applied in \d+ s; powering off/);
    expect(dbState(dbDir)).toMatchObject({ bootstrapped: true });
    expect(Object.keys(dbEntities(dbDir))).toEqual(expect.arrayContaining(["services/echo", "routes/echo", "routes/echo-internal"]));
  });

  it("migrator: a rerun installs and migrates nothing", () => {
    expectNothingRedone(boots.migratorReboot);
    expect(boots.migratorReboot.startupLog).toContain("Kong's database schema is up to date");
  });

  it("migrator: finishes pending migrations (exit code 4) and then runs the new ones", () => {
    expect(boots.migratorPending.startupLog).toContain("finishing pending Kong migrations");
    expect(boots.migratorPending.startupLog).toContain("running new Kong migrations");
    // The migrator powers itself off, so the runner may not live to log the script's exit status.
    expect(boots.migratorPending.startupLog).toMatch(/migrations and Kong entities applied in \d+ s; powering off/);
    expect(dbState(dbDir)).toMatchObject({ pending: false, new: false });
  });

  servingVmTests("gateway", () => ({ vm: gateway, first: boots.gatewayFirst, reboot: boots.gatewayReboot }));

  kongVmTests("gateway", () => ({ vm: gateway, first: boots.gatewayFirst }));
  kongPasswordTests("gateway", () => ({ vm: gateway }));
  kongPasswordTests("migrator", () => ({ vm: migrator }));

  it("gateway: the service sees its env values and secrets exactly, `$` and backticks included", () => {
    const env = JSON.parse(boots.gatewayFirst.check!.bodies[echoEnv]);
    expect(env).toMatchObject({ GREETING: greeting, ECHO_TOKEN: echoToken, KONG_URL: "http://127.0.0.1:8000/echo", REGION: expect.stringMatching(/^us-/) });
  });

  it("migrator: no access token on a command line, and every secret read with the VM's token", () => {
    expectSecretsReadSafely(migrator);
  });
});

/** A colocated gateway of `stack`, booted twice (the first time with the kill test), and what every one must show. */
function gatewayTests(stack: string, label: string): { vm: Vm; first: Boot; reboot: Boot } {
  const gateway = {} as { vm: Vm; first: Boot; reboot: Boot };
  beforeAll(async () => {
    const r = await roles(stack);
    gateway.vm = vmFor(`${label}-gateway`, r.scripts.gateway, join(work, `${label}-database`), r, true);
    gateway.first = timed(`${label} gateway, first boot`, gateway.vm.boot({ kill: true }));
    gateway.reboot = timed(`${label} gateway, reboot`, gateway.vm.boot());
  });
  servingVmTests("gateway", () => gateway);
  kongVmTests("gateway", () => gateway);
  return gateway;
}

describeVm("sidecar (us-sidecar): a gateway with its own PostgreSQL", () => {
  const gateway = gatewayTests("us-sidecar", "sidecar");

  it("gateway: creates the kong role and database in the real PostgreSQL, and Kong bootstraps it", () => {
    expect(gateway.first.startupLog).toContain("local PostgreSQL has the kong role and database");
    expect(gateway.first.startupLog).toContain("bootstrapping Kong's database");
    expect(gateway.reboot.startupLog).toContain("Kong's database schema is up to date");
  });
});

describeVm("dbless (us-dbless): a gateway from its declarative config", () => {
  gatewayTests("us-dbless", "dbless");
});

describeVm("standalone (us-standalone): the migrator, a Kong tier and a service tier", () => {
  let kongTier: Vm;
  let serviceTier: Vm;
  let standaloneDb: string;
  const boots: Record<string, Boot> = {};

  beforeAll(async () => {
    const r = await roles("us-standalone", { entryService: "echo" });
    const databaseDir = join(work, "standalone-database");
    standaloneDb = cloudSql(databaseDir, r.scripts.migrator, {});
    const migrator = vmFor("standalone-migrator", r.scripts.migrator, databaseDir, r, false);
    boots.migrator = timed("standalone migrator, first boot", migrator.boot());
    kongTier = vmFor("standalone-kong-tier", r.scripts["kong-tier"], databaseDir, r, false);
    boots.kongFirst = timed("standalone kong tier, first boot", kongTier.boot({ kill: true }));
    boots.kongReboot = timed("standalone kong tier, reboot", kongTier.boot());
    // Its grant still propagating: Secret Manager refuses the first read.
    serviceTier = vmFor("standalone-service-tier", r.scripts["service-tier"], databaseDir, r, true, { refusedSecretReads: 1 });
    boots.serviceFirst = timed("standalone service tier, first boot", serviceTier.boot({ kill: true }));
    boots.serviceReboot = timed("standalone service tier, reboot", serviceTier.boot());
  });

  it("migrator: migrates and writes the regional routes", () => {
    expect(boots.migrator.startupLog).toMatch(/migrations and Kong entities applied in \d+ s; powering off/);
    expect(Object.keys(dbEntities(standaloneDb)).filter((key) => key.startsWith("routes/")).length).toBeGreaterThan(0);
  });

  servingVmTests("kong tier", () => ({ vm: kongTier, first: boots.kongFirst, reboot: boots.kongReboot }));
  kongVmTests("kong tier", () => ({ vm: kongTier, first: boots.kongFirst }));
  kongPasswordTests("kong tier", () => ({ vm: kongTier }));
  servingVmTests("service tier", () => ({ vm: serviceTier, first: boots.serviceFirst, reboot: boots.serviceReboot }));

  it("service tier: waits out a refused secret read (403) while its grant propagates", () => {
    expect(boots.serviceFirst.startupLog).toMatch(/secret projects\/\S+\/secrets\/echo-token\/versions\/latest not readable yet \(HTTP 403/);
  });
});
