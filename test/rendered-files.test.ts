/** What the stack renders for its VMs passes the tools that judge such files. */
import type { Recording } from "../plan/record";
import { renderRouteCheckScript } from "../components/deploy-check";
import { adminRequests, entitiesFromAdminRequests, kongEntities, renderAdminRequests } from "../startup/kong-entities";
import { inputs, recordStack, stackServices } from "./support/stack";
import { checkFile, verifyUnits } from "./support/tools";
import { filesWrittenBy } from "../startup/startup-script";
import { exampleStacks } from "../scripts/outage-table";
import { spawnSync } from "child_process";
import { readdirSync } from "fs";
import { join } from "path";

let stack: Recording;
beforeAll(async () => {
  stack = await recordStack("us-multi");
});

const bootScripts = () =>
  stack.resources.filter((r) => inputs(r).metadataStartupScript).map((r) => [r.name, inputs(r).metadataStartupScript as string]);

describe("boot scripts of every region and role", () => {
  it("exist for each region's template and the migrator", () => {
    expect(bootScripts().map(([name]) => name).sort()).toEqual([
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
  it("passes shellcheck", () => {
    const script = renderRouteCheckScript([{ method: "GET", path: "/", throughKong: true }, { method: "GET", path: "/login", throughKong: false }], 600);
    expect(checkFile(["shellcheck", "--severity=style", "--shell=bash"], "check.sh", script)).toEqual({ status: 0, output: "" });
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
        run: { kind: "git", repository: "https://example.com/t.git", ref: "v1", build: `make ${tricky}`, command: `./run ${tricky}` },
      },
      { name: "boxed", port: 9001, healthPath: "/h", routes: [{ name: "b", paths: ["/b"] }], run: { kind: "container", image: "img", args: [tricky, "--flag=a b"] } },
    ];
    const recording = await recordStack("us-dbless", { services, pictures: null });
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
