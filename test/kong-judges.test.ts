/**
 * Kong 3.9.1's own code judges what the program renders (test/support/kong-tools.ts): every kong.conf
 * of every VM of every example stack through `kong check`, every declarative config and every set
 * of entities written through the Admin API through `kong config parse`, and Kong's router decides
 * where each public and internal request goes.
 */
import { spawnSync } from "child_process";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse } from "yaml";
import type { Recording } from "../plan/record";
import { exampleStacks } from "../scripts/outage-table";
import { kongConfValue, kongDatabaseCaPath } from "../startup/kong-conf";
import { entitiesFromAdminRequests, kongHealthPath, renderDeclarativeConfig } from "../startup/kong-entities";
import { fallbackConfigPath } from "../startup/kong-fallback";
import { judged, vmFilesPlaced, kongCheck, kongConfigParse, kongRoute, kongToolsUnavailable, RouterAnswer } from "./support/kong-tools";
import { inputsOfType } from "../plan/fleet";
import { declarativeConfigsOf, fallbackEnv, RenderedVm, vmsOf, withKong } from "./support/rendered-vms";
import { kongConfPath } from "../startup/systemd";
import { recordStack, stackServices } from "./support/stack";

const unavailable = kongToolsUnavailable();
const describeKong = unavailable ? describe.skip : describe;
if (unavailable) process.stderr.write(`Kong's own checks skipped: ${unavailable}\n`);
afterAll(() => {
  if (!unavailable) process.stderr.write(`Kong's own checks judged: ${Object.entries(judged).map(([tool, n]) => `${n} ${tool}`).join(", ")}\n`);
});

jest.setTimeout(300_000);


const placedFiles = new WeakMap<RenderedVm, (text: string) => string>();
/** `text` with the VM's paths turned into copies of its files, which Kong's tools load (vmFilesPlaced). */
function placed(vm: RenderedVm, text: string): string {
  if (!placedFiles.has(vm)) placedFiles.set(vm, vmFilesPlaced(vm.files));
  return placedFiles.get(vm)!(text);
}
/** The VM's kong.conf as Kong reads it on the VM: the CA it trusts is the file the boot script writes. */
const confOf = (vm: RenderedVm) => placed(vm, vm.files[kongConfPath]);

const stacks: Record<string, Recording> = {};

describeKong("Kong's own code on what every VM gets", () => {
  beforeAll(async () => {
    for (const [topology, stack] of Object.entries(exampleStacks)) stacks[topology] = await recordStack(stack);
  });

  it.each(Object.keys(exampleStacks))("%s: `kong check` accepts every kong.conf, as rendered and in fallback mode", (topology) => {
    const vms = withKong(vmsOf(stacks[topology]));
    expect(vms.length).toBeGreaterThanOrEqual(3);
    for (const vm of vms) {
      const conf = confOf(vm);
      expect([vm.name, kongCheck(conf)]).toEqual([vm.name, { status: 0, output: expect.stringContaining("is valid") }]);
      const fallback = Object.fromEntries(Object.entries(fallbackEnv(vm.files)).map(([k, v]) => [k, placed(vm, v)]));
      if (vm.files[fallbackConfigPath]) expect([vm.name, kongCheck(conf, fallback)]).toEqual([vm.name, { status: 0, output: expect.stringContaining("is valid") }]);
    }
  });

  it.each(Object.keys(exampleStacks))("%s: every file a kong.conf names is one the boot script writes", (topology) => {
    for (const vm of withKong(vmsOf(stacks[topology]))) {
      const named = [...vm.files[kongConfPath].matchAll(/^\w+ = (.+)$/gm)].flatMap(([, value]) => value.split(",").filter((v) => v.startsWith("/") && !v.startsWith("/dev/")));
      for (const path of [...named, ...Object.values(fallbackEnv(vm.files)).filter((v) => v.startsWith("/"))]) expect([vm.name, path, vm.files[path] !== undefined]).toEqual([vm.name, path, true]);
    }
  });

  it.each(Object.keys(exampleStacks))("%s: `kong config parse` accepts every declarative config and every entity the Admin API gets", (topology) => {
    const judged = withKong(vmsOf(stacks[topology])).flatMap((vm) => declarativeConfigsOf(vm).map((c) => ({ vm: vm.name, ...c, conf: confOf(vm) })));
    expect(judged.length).toBeGreaterThan(0);
    for (const { vm, what, yaml, env, conf } of judged) {
      expect([vm, what, kongConfigParse(yaml, conf, env)]).toEqual([vm, what, { status: 0, output: expect.stringContaining("parse successful") }]);
    }
  });

  it("refuses what Kong refuses, with Kong's own message (the checks above can fail)", () => {
    const vm = withKong(vmsOf(stacks["shared-db"])).find((v) => v.role === "gateway")!;
    const conf = confOf(vm);
    expect(kongCheck(conf.replace(/^pg_ssl = on$/m, "pg_ssl = on\nrole = data_plane"))).toMatchObject({ status: 1, output: expect.stringContaining('only in-memory storage can be used when role = "data_plane"') });
    expect(kongCheck(conf.replace(/^proxy_listen = .*$/m, "proxy_listen = 0.0.0.0:80000"))).toMatchObject({ status: 1 });
    // A CA file the conf trusts must exist (kong/conf_loader/parse.lua; its content is nginx's to load at start).
    expect(kongCheck(vm.files[kongConfPath])).toMatchObject({ status: 1, output: expect.stringContaining(`failed loading certificate from ${kongDatabaseCaPath}`) });
    const yaml = parse(vm.files[fallbackConfigPath]);
    yaml.services[1].routes[0].plugins[0].config.allow.push("not-an-address");
    expect(kongConfigParse(JSON.stringify(yaml), conf, fallbackEnv(vm.files))).toMatchObject({ status: 1, output: expect.stringContaining("invalid ip or cidr range: 'not-an-address'") });
    yaml.services[1].routes[0].plugins[0].config.allow.pop();
    yaml.services[1].routes[1].name = yaml.services[1].routes[0].name;
    expect(kongConfigParse(JSON.stringify(yaml), conf, fallbackEnv(vm.files))).toMatchObject({ status: 1, output: expect.stringContaining("uniqueness violation") });
  });
});

/** The first path of a route with the first method it allows. */
function requestFor(route: { paths: string[]; methods?: string[] }, prefix = ""): string {
  return `${route.methods?.[0] ?? "GET"} ${prefix}${route.paths[0]}`;
}

interface ConfiguredService {
  name: string;
  port: number;
  routes: { name: string; paths: string[]; methods?: string[]; internal?: boolean }[];
  env: Record<string, string>;
}

/** Every route of the stack file's services, with its service. */
const routesOf = (services: ConfiguredService[]) => services.flatMap((s) => s.routes.map((r) => ({ ...r, service: s })));

/**
 * The calls a VM's services make through Kong: each variable whose configured value names
 * `{{kong}}`, as the VM's env file has it, with the route the call is meant for and the prefix
 * before that route's path in the URL the VM got (a standalone region's route prefix).
 */
function callsThroughKong(vm: RenderedVm, services: ConfiguredService[]) {
  return services
    .filter((s) => vm.files[`/etc/geo-api-layer/${s.name}.env`] !== undefined)
    .flatMap((service) =>
      Object.keys(service.env)
        .filter((name) => service.env[name].includes("{{kong}}"))
        .map((variable) => {
          const url = new URL(new RegExp(`^${variable}="([^"]+)"$`, "m").exec(vm.files[`/etc/geo-api-layer/${service.name}.env`])![1]);
          const path = service.env[variable].slice("{{kong}}".length);
          const target = routesOf(services).find((r) => r.paths.includes(path))!;
          return { caller: `${vm.name} ${variable}`, url, target, prefix: url.pathname.slice(0, url.pathname.length - path.length) };
        }),
    );
}

describeKong("Kong's own router on every route", () => {
  beforeAll(async () => {
    for (const [topology, stack] of Object.entries(exampleStacks)) stacks[topology] ??= await recordStack(stack);
  });

  /** Where Kong sends a request: a service's host, port and path, its own plugins (no service), or its status. */
  const proxied = (answer: RouterAnswer) => ({
    route: answer.route?.name,
    service: answer.service?.name,
    upstream:
      answer.status !== "proxy" ? answer.status : answer.service ? `${answer.upstream_host}:${answer.upstream_port}${answer.upstream_uri}` : `Kong: ${Object.values(answer.plugins).join(", ")}`,
  });

  it.each(["sidecar", "shared-db", "dbless"])("%s: every route reaches its service on loopback at the path it expects, from the load balancer and from the VM's own services", (topology) => {
    const configured = stackServices(exampleStacks[topology]) as unknown as ConfiguredService[];
    const routes = routesOf(configured);
    expect(routes.length).toBeGreaterThan(1);
    const gateways = withKong(vmsOf(stacks[topology])).filter((vm) => vm.role === "gateway");
    for (const vm of gateways) {
      // Internal routes from the services on the VM, through the URL their `{{kong}}` became.
      const calls = callsThroughKong(vm, configured);
      expect(calls.length).toBeGreaterThan(0);
      for (const { caller, url } of calls) expect([caller, url.host]).toEqual([caller, `127.0.0.1:${kongConfValue(vm.files[kongConfPath], "proxy_listen")!.split(":")[1]}`]);
      const fromLoadBalancer = routes.filter((r) => !r.internal);
      // A method a route does not allow never takes it: the request goes elsewhere or nowhere.
      const otherMethod = routes.filter((r) => r.methods).map((r) => ({ route: r, method: ["GET", "POST", "DELETE"].find((m) => !r.methods!.includes(m))! }));
      expect(otherMethod.length).toBeGreaterThan(0);
      const requests = [
        ...fromLoadBalancer.map((r) => `${requestFor(r)} ip=35.191.0.9`),
        ...calls.map(({ target, prefix }) => `${requestFor(target, prefix)} ip=127.0.0.1`),
        `GET ${kongHealthPath} ip=35.191.0.9`,
        ...otherMethod.map(({ route, method }) => `${method} ${route.paths[0]} ip=35.191.0.9`),
      ];
      const expected = [
        ...[...fromLoadBalancer, ...calls.map((c) => c.target)].map((r) => ({ route: r.name, service: r.service.name, upstream: `127.0.0.1:${r.service.port}${r.paths[0]}` })),
        // Answered by Kong itself (request-termination), from no service.
        { route: "geo-api-layer-health", service: undefined, upstream: "Kong: request-termination(route)" },
      ];
      for (const { what, yaml, env } of declarativeConfigsOf(vm)) {
        const answers = kongRoute(yaml, confOf(vm), requests, env).map(proxied);
        expect([vm.name, what, answers.slice(0, expected.length)]).toEqual([vm.name, what, expected]);
        const misrouted = otherMethod.filter(({ route }, i) => answers[expected.length + i].route === route.name);
        expect([vm.name, what, misrouted]).toEqual([vm.name, what, []]);
      }
    }
  });

  it("standalone: each region's services reach their own region's tiers through their region's Kong, and nothing else is routed", () => {
    const recording = stacks.standalone;
    const vms = vmsOf(recording);
    const migrator = vms.find((vm) => vm.role === "migrator")!;
    const kongTier = vms.find((vm) => vm.role === "kong-tier")!;
    const entities = renderDeclarativeConfig(entitiesFromAdminRequests(migrator.files["/etc/kong/admin-requests.tsv"]));
    const rules = inputsOfType(recording.resources, "compute/forwardingRule:ForwardingRule");
    const ilb = (region: string, tier: string) => rules.find((r) => r.region === region && r.name === `geo-${region}-${tier}-ilb`)!.ipAddress as string;
    const configured = stackServices("us-standalone") as unknown as ConfiguredService[];
    const serviceTiers = vms.filter((vm) => vm.role === "service-tier");
    expect(serviceTiers.length).toBe(configured.length * 3);
    const calls = serviceTiers.flatMap((vm) => callsThroughKong(vm, configured).map((call) => ({ ...call, region: vm.region })));
    expect(calls.length).toBeGreaterThanOrEqual(3);
    // Each region's services call their own region's Kong.
    for (const { caller, url, region } of calls) expect([caller, url.hostname]).toEqual([caller, ilb(region, "kong")]);
    // Every route under every region's prefix, the callers' among them.
    const prefixes = [...new Map(calls.map((c) => [c.region, c.prefix])).entries()];
    expect(prefixes).toHaveLength(3);
    const regional = prefixes.flatMap(([region, prefix]) => routesOf(configured).map((target) => ({ region, prefix, target })));
    const nothing = ["GET /login", "POST /upload", "GET /api/eu/west/ping"];
    const requests = [...[...calls, ...regional].map(({ target, prefix }) => `${requestFor(target, prefix)} ip=10.0.0.9`), ...nothing];
    const answers = kongRoute(entities, confOf(kongTier), requests, { KONG_DATABASE: "off" }).map(proxied);
    // strip_path: the region's prefix goes, the route's own path stays; the tier is the caller's region's.
    const routed = [...calls, ...regional];
    expect(answers.slice(0, routed.length).map((a) => a.upstream)).toEqual(routed.map(({ target, region }) => `${ilb(region, target.service.name)}:${target.service.port}${target.paths[0]}`));
    expect(answers.slice(routed.length)).toEqual(nothing.map(() => ({ route: undefined, service: undefined, upstream: 404 })));
    // Without its database at boot, each Kong tier routes its own region's calls the same way from its fallback config.
    const kongTiers = vms.filter((vm) => vm.role === "kong-tier");
    expect(kongTiers).toHaveLength(3);
    for (const tier of kongTiers) {
      const own = regional.filter((r) => r.region === tier.region);
      const fallback = declarativeConfigsOf(tier).find((c) => c.what === fallbackConfigPath)!;
      const fromFallback = kongRoute(fallback.yaml, confOf(tier), own.map(({ target, prefix }) => `${requestFor(target, prefix)} ip=10.0.0.9`), fallback.env).map(proxied);
      expect([tier.name, fromFallback.map((a) => a.upstream)]).toEqual([tier.name, own.map(({ target, region }) => `${ilb(region, target.service.name)}:${target.service.port}${target.paths[0]}`)]);
    }
  });
});

describeKong("the VM harness's stand-in Kong routes as Kong's own router does", () => {
  const standin = join(__dirname, "vm", "kong-package", "usr", "local", "lib", "kong-standin", "standin.py");

  beforeAll(async () => {
    for (const [topology, stack] of Object.entries(exampleStacks)) stacks[topology] ??= await recordStack(stack);
  });

  /**
   * Requests near every route: its paths as configured, with a slash, a suffix, a query, and with
   * another method. Not HEAD: kong-router's requests read a body, which HEAD answers have not.
   */
  function requestsNear(yaml: string): string[] {
    const entities = parse(yaml) as { services: { routes: { paths: string[]; methods?: string[] }[] }[]; routes: { paths: string[]; methods?: string[] }[] };
    const routes = [...entities.services.flatMap((s) => s.routes), ...entities.routes];
    const near = routes.flatMap((r) =>
      r.paths.flatMap((p) => [...(r.methods ?? ["GET"]).filter((m) => m !== "HEAD"), r.methods ? "DELETE" : "POST"].flatMap((m) => [`${m} ${p}`, `${m} ${p}/`, `${m} ${p}x?a=b`, `${m} ${p}/deeper/path`])),
    );
    return [...new Set([...near, "GET /", "GET /nowhere", "POST /api/us/west", "GET /a//b/../c", "GET /%75pload"])];
  }

  it.each(Object.keys(exampleStacks))("%s: the same route, service, upstream and plugins for every request near every route", (topology) => {
    const configs = withKong(vmsOf(stacks[topology])).flatMap((vm) => declarativeConfigsOf(vm).map((c) => ({ ...c, vm })));
    expect(configs.length).toBeGreaterThan(0);
    for (const { vm, what, yaml, env } of configs) {
      const requests = requestsNear(yaml);
      expect(requests.length).toBeGreaterThan(10);
      const kong = kongRoute(yaml, confOf(vm), requests, env).map((a) => ({
        route: a.route?.name,
        service: a.service?.name,
        upstream: a.status === "proxy" && a.service ? `${a.upstream_host}:${a.upstream_port}${a.upstream_uri}` : undefined,
        plugins: Object.values(a.plugins ?? {}).map((p) => String(p).replace(/\(.*\)$/, "")),
      }));
      const dir = mkdtempSync(join(tmpdir(), "standin-route-"));
      writeFileSync(join(dir, "kong.yaml"), yaml);
      writeFileSync(join(dir, "requests.txt"), requests.join("\n"));
      // Debian's Python, as in the VM (python3-yaml).
      const run = spawnSync("/usr/bin/python3", [standin, "route", join(dir, "kong.yaml"), join(dir, "requests.txt")], { encoding: "utf8" });
      expect(run.stderr).toBe("");
      const ours = run.stdout.trim().split("\n").map((line) => JSON.parse(line)).map((a) => ({ route: a.route, service: a.service, upstream: a.upstream, plugins: a.plugins ?? [] }));
      expect([vm.name, what, ours]).toEqual([vm.name, what, kong]);
    }
  });
});
