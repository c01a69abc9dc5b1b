/**
 * Game days: a running fleet of VMs in several regions behind the load balancer's checks, as Google
 * probes them (test/vm/load-balancer.py), then a region goes dark the way it does on a network
 * (every packet dropped: test/vm/network.ts), its Kong database instance with it, and comes back.
 * Kong's database is real PostgreSQL (test/vm/cloud-sql.ts), its replica a streaming standby that
 * applies changes late, as an asynchronous cross-region replica does, and that no gateway reads. The
 * README's outage table must say what they showed.
 */
import { readFileSync } from "fs";
import { join } from "path";
import { OutageReport, renderOutageRow } from "../../plan/outage";
import { projectDir } from "../../plan/stack-file";
import { kongHealthPath } from "../../startup/kong-entities";
import { filesWrittenBy } from "../../startup/startup-script";
import { describeVm, harnessFor, kongPort } from "./fleet";
import { GameDayFleet } from "./game-day-fleet";
import type { RunningVm } from "./harness";
import { sleep } from "./load-balancer";

jest.setTimeout(1800_000);

const harness = harnessFor("game-days");

const results: string[] = [];
afterAll(() => {
  if (results.length) process.stderr.write(`vm harness game days:\n  ${results.join("\n  ")}\n`);
});

const now = () => Date.now() / 1000;
const readme = () => readFileSync(join(projectDir, "README.md"), "utf8");

describeVm("game days: shared-db (us-multi), three regions on one Cloud SQL primary (us-central1) and its replica (us-east4)", () => {
  const replicaLagSec = 6;
  let fleet: GameDayFleet;
  let entitiesWrittenAt: number;
  /** What each outage showed. */
  const observed: Record<string, OutageReport> = {};

  beforeAll(async () => {
    fleet = await GameDayFleet.of(harness, "us-multi", "shared-db", { replicaApplyDelaySec: replicaLagSec });
    // A first deploy: the gateways boot while the migrator migrates and writes Kong's entities.
    const booting = ["us-central1", "us-east4", "us-west2"].map((region) => fleet.gateway(region, region));
    fleet.migrate("us-central1");
    entitiesWrittenAt = Number(fleet.network.primary!.psql("SELECT extract(epoch FROM min(updated_at)) FROM entities", {}, "kong"));
    for (const check of await Promise.all(booting.map((vm) => vm.ready(300)))) if (!check.startup_ok) throw new Error("a gateway's first boot failed");
    for (const region of ["us-central1", "us-east4", "us-west2"]) await fleet.lb.until(region, true, 60);
  });

  afterAll(() => fleet?.stop());

  it("first deploy: no gateway passes the load balancer's check before the migrator has written Kong's routes", () => {
    const firstPasses = ["us-central1", "us-east4", "us-west2"].map((g) => [g, fleet.lb.between(g, "health", 0).find((e) => e.status === 200)!.t - entitiesWrittenAt] as const);
    for (const [region, after] of firstPasses) expect([region, after >= 0]).toEqual([region, true]);
    results.push(`shared-db first deploy: first passing checks after the routes were written: ${firstPasses.map(([g, s]) => `${g} +${s.toFixed(1)} s`).join(", ")}`);
  });

  it("the fleet serves through the load balancer from every region", () => {
    for (const region of ["us-central1", "us-east4", "us-west2"]) {
      const answer = fleet.through(region, "/echo");
      expect([region, answer.status, JSON.parse(answer.body).region]).toEqual([region, 200, region]);
    }
  });

  describe("the primary's region (us-central1) goes dark", () => {
    let darkAt: number;
    let statusSeconds: number;
    let changeStatus: number;
    let newVm: RunningVm;

    beforeAll(async () => {
      darkAt = now();
      fleet.network.net.dark(fleet.network.primary!.ns);
      fleet.network.net.dark(fleet.vms["us-central1"].ns);
      // Kong's own /status on a surviving gateway: it connects to the primary (kong/api/routes/health.lua).
      const status = `http://127.0.0.1:${kongPort(fleet.roles.byRegion.gateway["us-west2"], "status_listen")}/status`;
      statusSeconds = Number(fleet.network.net.exec(fleet.vms["us-west2"].ns, ["curl", "-s", "-o", "/dev/null", "-m", "30", "-w", "%{time_total}", status]));
      changeStatus = fleet.addRoute("us-west2", "while-primary-dark");
      newVm = fleet.gateway("us-west2-new", "us-west2");
      await newVm.ready(300);
      await fleet.lb.until("us-west2-new", true, 60);
      await sleep(10_000);
    });

    it("the load balancer takes the dark region out within its unhealthy threshold", () => {
      const out = fleet.lb.between("us-central1", "health", darkAt).find((e) => e.changed && !e.healthy);
      expect(out!.t - darkAt).toBeLessThanOrEqual(5 * 2 + 5 + 1);
    });

    it("running gateways in the other regions keep passing every check and serving every request, from Kong's cache", () => {
      expect(["us-east4", "us-west2"].map((g) => fleet.servedThroughout(g, darkAt, now()))).toEqual(["us-east4", "us-west2"].map(GameDayFleet.served));
    });

    it("Kong's own /status there would not do: it waits for the primary past the check's 5 s timeout", () => {
      expect(statusSeconds).toBeGreaterThan(5);
      results.push(`shared-db, primary dark: Kong's /status on a surviving gateway took ${statusSeconds.toFixed(1)} s`);
    });

    it("Kong's configuration cannot change: the Admin API's write needs the primary", () => {
      expect(changeStatus).toBe(500);
    });

    it("a new VM boots to ready from its fallback config, passes the check and serves", () => {
      expect(newVm.vm.journals().startupLog).toContain("starting Kong without its database, from /etc/kong/fallback.yaml");
      expect(fleet.through("us-west2-new", "/echo").status).toBe(200);
      expect(fleet.through("us-west2-new", kongHealthPath).status).toBe(200);
      results.push(`shared-db, primary dark: a new us-west2 VM ready ${newVm.readySeconds!.toFixed(1)} s after its container started, taken by the load balancer after ${fleet.healthyAfter("us-west2-new").toFixed(1)} s`);
      observed["us-central1"] = GameDayFleet.report("us-central1", fleet.servedFrom(darkAt + 15), changeStatus === 200, fleet.lb.healthy("us-west2-new"));
    });
  });

  describe("the database comes back", () => {
    let routed: Record<string, number | "never">;

    beforeAll(async () => {
      fleet.network.net.restore(fleet.network.primary!.ns);
      fleet.network.net.restore(fleet.vms["us-central1"].ns);
      await fleet.lb.until("us-central1", true, 60);
      if (fleet.addRoute("us-west2", "added") !== 200) throw new Error("the Admin API refused a change with the database back");
      routed = await fleet.routedWithin(["us-central1", "us-east4", "us-west2", "us-west2-new"], "added", 120);
    });

    it("a configuration change reaches every node, the one back from its fallback config included", () => {
      expect(routed).toEqual({ "us-central1": expect.any(Number), "us-east4": expect.any(Number), "us-west2": expect.any(Number), "us-west2-new": expect.any(Number) });
      results.push(`shared-db, database back: a new route routed after ${Object.entries(routed).map(([n, s]) => `${n} ${s} s`).join(", ")} (the replica applying ${replicaLagSec} s late)`);
    });

    it("nothing was lost: every node still serves the routes written before the outage, and none a route that was never written", () => {
      for (const name of ["us-central1", "us-east4", "us-west2", "us-west2-new"]) {
        expect([name, fleet.through(name, "/echo").status, fleet.through(name, "/game-day/never-added").status]).toEqual([name, 200, 404]);
      }
    });
  });

  describe("the replica's region (us-east4) goes dark", () => {
    let darkAt: number;
    let routed: Record<string, number | "never">;
    let newVm: RunningVm;

    beforeAll(async () => {
      darkAt = now();
      fleet.network.net.dark(fleet.network.replica!.ns);
      fleet.network.net.dark(fleet.vms["us-east4"].ns);
      if (fleet.addRoute("us-central1", "during-replica-outage") !== 200) throw new Error("the Admin API refused a change with the replica's region dark");
      routed = await fleet.routedWithin(["us-central1", "us-west2", "us-west2-new"], "during-replica-outage", 60);
      newVm = fleet.gateway("us-central1-new", "us-central1");
      await newVm.ready(300);
      await fleet.lb.until("us-central1-new", true, 60);
    });

    it("no other region notices: running gateways keep serving and a configuration change reaches every other node", () => {
      expect(routed).toEqual({ "us-central1": expect.any(Number), "us-west2": expect.any(Number), "us-west2-new": expect.any(Number) });
      expect(["us-central1", "us-west2"].map((g) => fleet.servedThroughout(g, darkAt, now()))).toEqual(["us-central1", "us-west2"].map(GameDayFleet.served));
    });

    it("a new VM starts on the database, not its fallback config, and serves the change", () => {
      expect(newVm.vm.journals().startupLog).not.toContain("starting Kong without its database");
      expect(fleet.through("us-central1-new", "/game-day/during-replica-outage").status).toBe(200);
      results.push(`shared-db, replica dark: a new route routed after ${Object.entries(routed).map(([n, s]) => `${n} ${s} s`).join(", ")}; a new us-central1 VM ready after ${newVm.readySeconds!.toFixed(1)} s`);
      observed["us-east4"] = GameDayFleet.report("us-east4", fleet.servedFrom(darkAt + 15), Object.values(routed).every((s) => s !== "never"), fleet.lb.healthy("us-central1-new"));
    });
  });

  it("the README's outage table says what these game days showed", () => {
    expect(Object.keys(observed).sort()).toEqual(["us-central1", "us-east4"]);
    for (const report of Object.values(observed)) expect(readme()).toContain(renderOutageRow("shared-db", report, { "us-central1": "database", "us-east4": "replica" }));
  });
});

/** Gateways that keep Kong's configuration on the VM: a region goes dark, the others do not notice. */
describeVm.each([
  ["dbless", "us-dbless"],
  ["sidecar", "us-sidecar"],
])("game days: %s (%s), a region goes dark", (topology, stack) => {
  let fleet: GameDayFleet;
  let darkAt: number;
  let newVm: RunningVm;

  beforeAll(async () => {
    fleet = await GameDayFleet.of(harness, stack, topology);
    await fleet.serving({ "us-central1": "us-central1", "us-east4": "us-east4" });
    darkAt = now();
    fleet.network.net.dark(fleet.vms["us-central1"].ns);
    newVm = fleet.gateway("us-west2", "us-west2");
    await newVm.ready(300);
    await fleet.lb.until("us-west2", true, 60);
    // Requests reach it from now on.
    await sleep(5_000);
  });

  afterAll(() => fleet?.stop());

  describe("us-central1 goes dark", () => {
    it("the other region's gateway keeps passing every check and serving every request", () => {
      expect(fleet.servedThroughout("us-east4", darkAt, now())).toEqual(GameDayFleet.served("us-east4"));
      expect(fleet.lb.healthy("us-central1")).toBe(false);
    });

    it("a new VM (a rollout's, the autoscaler's or autohealing's) boots to ready and serves, with every route", () => {
      expect(fleet.through("us-west2", "/echo").status).toBe(200);
      results.push(`${topology}, us-central1 dark: a new us-west2 VM ready after ${newVm.readySeconds!.toFixed(1)} s, taken by the load balancer after ${fleet.healthyAfter("us-west2").toFixed(1)} s`);
    });

    it("the README's outage table says what this game day showed", () => {
      // A configuration change is a rollout: a new VM with the new config, which is what joined here.
      const report = GameDayFleet.report("us-central1", fleet.servedFrom(darkAt + 15), fleet.lb.healthy("us-west2"), fleet.lb.healthy("us-west2"));
      expect(readme()).toContain(renderOutageRow(topology, report, {}));
    });
  });
});

describeVm("game days: standalone (us-standalone), the primary's region (us-central1) goes dark", () => {
  let fleet: GameDayFleet;
  let darkAt: number;
  let newKong: RunningVm;
  /** The URL of its region's Kong that the echo service of a region calls ({{kong}}/echo). */
  const kongUrl = (region: string) => /^KONG_URL="([^"]+)"$/m.exec(filesWrittenBy(fleet.roles.byRegion["service-tier"][region])["/etc/geo-api-layer/echo.env"])![1];

  beforeAll(async () => {
    fleet = await GameDayFleet.of(harness, "us-standalone", "standalone", { overrides: { entryService: "echo" } });
    fleet.migrate("us-central1");
    // In the harness an internal load balancer's address is the one VM behind it.
    const internal = fleet.roles.internalAddresses;
    const booting = ["us-central1", "us-east4"].flatMap((region) => [
      fleet.start(`${region}-kong`, "kong-tier", region, { behindLoadBalancer: false, addresses: [internal[region].kong] }),
      fleet.start(`${region}-echo`, "service-tier", region, { behindLoadBalancer: true, addresses: [internal[region].echo] }),
    ]);
    for (const check of await Promise.all(booting.map((vm) => vm.ready(300)))) if (!check.startup_ok) throw new Error("a tier's first boot failed");
    for (const region of ["us-central1", "us-east4"]) await fleet.lb.until(`${region}-echo`, true, 60);
    darkAt = now();
    fleet.network.net.dark(fleet.network.primary!.ns);
    for (const vm of ["us-central1-kong", "us-central1-echo"]) fleet.network.net.dark(fleet.vms[vm].ns);
    newKong = fleet.start("us-east4-kong-new", "kong-tier", "us-east4", { behindLoadBalancer: false });
    await newKong.ready(300);
    await sleep(5_000);
  });

  afterAll(() => fleet?.stop());

  it("the entry tier of the other region keeps passing every check and serving every request", () => {
    expect(fleet.servedThroughout("us-east4-echo", darkAt, now())).toEqual(GameDayFleet.served("us-east4-echo"));
  });

  it("its services still reach their own region's tiers through their region's Kong, from Kong's cache", () => {
    const answer = fleet.fromVm("us-east4-echo", kongUrl("us-east4"));
    expect([answer.status, JSON.parse(answer.body).region]).toEqual([200, "us-east4"]);
  });

  it("a new Kong tier VM boots to ready from its region's fallback routes and routes them to its region's tiers", () => {
    expect(newKong.vm.journals().startupLog).toContain("starting Kong without its database, from /etc/kong/fallback.yaml");
    const path = new URL(kongUrl("us-east4")).pathname;
    const answer = fleet.through("us-east4-kong-new", path, Number(kongPort(fleet.roles.byRegion["kong-tier"]["us-east4"], "proxy_listen")));
    expect([answer.status, JSON.parse(answer.body).region]).toEqual([200, "us-east4"]);
    results.push(`standalone, primary dark: a new us-east4 Kong tier VM ready after ${newKong.readySeconds!.toFixed(1)} s, routing ${path} to us-east4's tier`);
  });
});
