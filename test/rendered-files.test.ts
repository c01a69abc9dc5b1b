/** What the stack renders for its VMs passes the tools that judge such files. */
import type { Recording } from "../plan/record";
import { renderRouteCheckScript } from "../components/deploy-check";
import { renderBuildWaitScript } from "../components/service-builds";
import { adminRequests, entitiesFromAdminRequests, kongEntities, renderAdminRequests } from "../startup/kong-entities";
import { inputs, recordStack, stackServices } from "./support/stack";
import { checkFile, verifyUnits } from "./support/tools";
import { filesWrittenBy } from "../startup/startup-script";
import { exampleStacks } from "../scripts/outage-table";
import { spawn, spawnSync } from "child_process";
import { createServer, IncomingHttpHeaders } from "http";
import type { AddressInfo } from "net";
import { readdirSync } from "fs";
import { join } from "path";

let stack: Recording;
beforeAll(async () => {
  stack = await recordStack("us-multi");
});

const bootScripts = () =>
  stack.resources.filter((r) => inputs(r).metadataStartupScript).map((r) => [r.name, inputs(r).metadataStartupScript as string]);

describe("boot scripts of every region and role", () => {
  it("exist for each region's template, the builder and the migrator", () => {
    expect(bootScripts().map(([name]) => name).sort()).toEqual([
      "geo-builds-builder",
      "geo-migrator-vm",
      "geo-us-central1-template",
      "geo-us-east4-template",
      "geo-us-west2-template",
    ]);
  });

  // shellcheck and bash -n judge every boot script of every example stack: test/topologies.test.ts.
});

describe("Kong's entities", () => {
  const entities = kongEntities(stackServices("us-multi") as never, { internalSources: ["10.0.0.0/20"] });

  // Whether Kong accepts them is Kong's own `kong config parse` (test/kong-judges.test.ts).
  it("written through the Admin API, read back as the same entities (what Kong's own parser judges)", () => {
    expect(entitiesFromAdminRequests(renderAdminRequests(adminRequests(entities)))).toEqual(entities);
  });

  it("upsert by name in dependency order, with internal routes restricted to loopback and the VPC", () => {
    const requests = adminRequests(entities);
    expect(requests.every((r) => r.method === "PUT")).toBe(true);
    const paths = requests.map((r) => r.path);
    expect(paths.indexOf("/services/attachments")).toBeLessThan(paths.indexOf("/routes/attachments-upload"));
    const restriction = requests.find((r) => r.path.startsWith("/plugins/"))!;
    expect(restriction.body).toMatchObject({ name: "ip-restriction", route: { name: "attachments-upload" }, config: { allow: ["127.0.0.1", "10.0.0.0/20"] } });
    expect(adminRequests(kongEntities(stackServices("us-multi") as never, { internalSources: ["10.0.0.0/20"] }))).toEqual(requests);
  });
});

describe("the post-deploy route check", () => {
  it("passes shellcheck, as does the wait for the builder", () => {
    const wait = renderBuildWaitScript({ name: "geo-builder", zone: "us-west2-a" }, 2700);
    expect(checkFile(["shellcheck", "--severity=style", "--shell=bash"], "wait.sh", wait)).toEqual({ status: 0, output: "" });
    const script = renderRouteCheckScript([{ method: "GET", path: "/", throughKong: true }, { method: "GET", path: "/login", throughKong: false }], 600);
    expect(checkFile(["shellcheck", "--severity=style", "--shell=bash"], "check.sh", script)).toEqual({ status: 0, output: "" });
  });

  /** The rendered check against a load balancer on loopback that answers `answer(path, headers)`; its exit code and output. */
  async function runCheck(answer: (path: string, headers: IncomingHttpHeaders) => { status: number; via?: string }, env: Record<string, string> = {}) {
    const server = createServer((request, response) => {
      const { status, via } = answer(request.url!, request.headers);
      response.writeHead(status, via ? { Via: via } : {}).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const script = renderRouteCheckScript([{ method: "GET", path: "/", throughKong: true }, { method: "GET", path: "/health", throughKong: false }], 1);
    const { CHECK_HEADER: _unset, ...inherited } = process.env;
    const check = spawn("/bin/bash", ["-c", script], { stdio: ["ignore", "pipe", "pipe"], env: { ...inherited, CHECK_INTERVAL_SEC: "0.2", BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ...env } });
    let output = "";
    check.stdout.on("data", (d) => (output += d));
    check.stderr.on("data", (d) => (output += d));
    const status = await new Promise<number | null>((resolve) => check.on("exit", resolve));
    server.close();
    return { status, output };
  }

  it("passes once every route answers below 500, through Kong where it must", async () => {
    const { status, output } = await runCheck(() => ({ status: 200, via: "1.1 kong/3.9.1" }));
    expect([status, output.split("\n").filter((l) => l.startsWith("GET"))]).toEqual([0, ["GET /: 200 (kong)", "GET /health: 200 (direct)"]]);
  });

  it("fails on the load balancer's own 502, and on an answer that did not come through Kong", async () => {
    // The route the load balancer fronts directly (standalone's entry service) must not pass on a 502 either.
    const direct502 = (path: string) => (path === "/health" ? { status: 502 } : { status: 200, via: "1.1 kong/3.9.1" });
    expect(await runCheck(direct502)).toMatchObject({ status: 1, output: expect.stringContaining("/health not served after 1 s (last status: 502)") });
    expect(await runCheck(() => ({ status: 502, via: "1.1 kong/3.9.1" }))).toMatchObject({ status: 1, output: expect.stringContaining("/ not served after 1 s (last status: 502)") });
    expect(await runCheck(() => ({ status: 404 }))).toMatchObject({ status: 1, output: expect.stringContaining("(last status: 404)") });
  });

  it("sends the header plain HTTP serves with domains on", async () => {
    const gated = (_path: string, headers: IncomingHttpHeaders) => (headers["x-geo-api-layer-deploy-check"] === "0123abcd" ? { status: 200, via: "1.1 kong/3.9.1" } : { status: 301 });
    expect(await runCheck(gated, { CHECK_HEADER: "X-Geo-Api-Layer-Deploy-Check: 0123abcd" })).toMatchObject({ status: 0 });
    expect(await runCheck(gated)).toMatchObject({ status: 1 });
  });
});

describe("the boot-script sandbox's stand-ins", () => {
  it("pass shellcheck", () => {
    const dir = join(__dirname, "sandbox", "bin");
    const files = readdirSync(dir).map((f) => join(dir, f));
    const run = spawnSync("shellcheck", ["-x", "--severity=style", ...files], { encoding: "utf8", cwd: join(__dirname, "..") });
    expect({ status: run.status, output: run.stdout }).toEqual({ status: 0, output: "" });
  });
});

describe("systemd units", () => {
  /** Every unit file the boot scripts of a recording write, by file name. */
  const unitsOf = (recording: Recording) => {
    const units: Record<string, string> = {};
    for (const r of recording.resources) {
      const script = inputs(r).metadataStartupScript as string | undefined;
      if (!script) continue;
      for (const [path, content] of Object.entries(filesWrittenBy(script))) if (path.endsWith(".service")) units[path.split("/").pop()!] = content;
    }
    return units;
  };

  it.each(Object.values(exampleStacks))("of %s pass systemd-analyze verify", async (name) => {
    const units = unitsOf(await recordStack(name));
    expect(Object.keys(units).length).toBeGreaterThanOrEqual(2);
    expect(verifyUnits(units)).toEqual({ status: 0, output: "" });
  });

  it("stay whole with unbalanced quotes, dollars, percents, backslashes and non-ASCII in commands and arguments", async () => {
    // Odd counts of both quotes: any quote left unescaped unbalances the line.
    const tricky = `say "hi" $HOME 100% back\\slash ünïcode it's "open`;
    const services = [
      {
        name: "tricky",
        port: 9000,
        healthPath: "/h",
        routes: [{ name: "t", paths: ["/t"] }],
        run: { kind: "git", repository: "https://example.com/t.git", ref: "v1", build: { command: `make ${tricky}`, artifacts: ["run"] }, command: `./run ${tricky}` },
      },
      { name: "boxed", port: 9001, healthPath: "/h", routes: [{ name: "b", paths: ["/b"] }], run: { kind: "container", image: "img", args: [tricky, "--flag=a b"] } },
    ];
    // No route serves a health path, which the uptime check would need: no alerting.
    const recording = await recordStack("us-dbless", { services, pictures: null, alerting: { enabled: false } });
    expect(recording.errors).toEqual([]);
    const units = unitsOf(recording);
    expect(Object.keys(units)).toEqual(expect.arrayContaining(["geo-svc-tricky.service", "geo-svc-boxed.service"]));
    expect(verifyUnits(units)).toEqual({ status: 0, output: "" });
  });

  it("would catch a unit whose quoting a newline broke", () => {
    const broken = verifyUnits({ "broken.service": '[Service]\nExecStart=/usr/bin/app "first line\nsecond line"\n' });
    expect(broken.status).not.toBe(0);
    expect(broken.output).toContain("Unbalanced quoting");
  });
});
