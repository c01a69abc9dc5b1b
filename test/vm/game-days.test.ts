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
import { compactRegionName } from "../../config/regions";
import { kongConfValue } from "../../startup/kong-conf";
import { kongHealthPath } from "../../startup/kong-entities";
import { filesWrittenBy } from "../../startup/startup-script";
import { describeVm, harnessFor, kongConf, kongPort } from "./fleet";
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
/**
 * Waits at least 5 s, and until an outage's served-from window (`servedFrom(darkAt + 15)`: after the
 * load balancer's unhealthy threshold) holds 10 s of requests: a day whose steps all finish fast
 * would otherwise look at a window too short for one request.
 */
const settle = (darkAt: number) => sleep(Math.max(5, darkAt + 25 - now()) * 1000);
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
      await settle(darkAt);
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
      await settle(darkAt);
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

  describe("a region without the database (us-west2) goes dark", () => {
    let darkAt: number;
    let routed: Record<string, number | "never">;
    let newVm: RunningVm;

    beforeAll(async () => {
      fleet.network.net.restore(fleet.network.replica!.ns);
      fleet.network.net.restore(fleet.vms["us-east4"].ns);
      await fleet.lb.until("us-east4", true, 60);
      darkAt = now();
      for (const name of ["us-west2", "us-west2-new"]) fleet.network.net.dark(fleet.vms[name].ns);
      if (fleet.addRoute("us-central1", "during-west-outage") !== 200) throw new Error("the Admin API refused a change with us-west2 dark");
      routed = await fleet.routedWithin(["us-central1", "us-central1-new", "us-east4"], "during-west-outage", 60);
      newVm = fleet.gateway("us-east4-new", "us-east4");
      await newVm.ready(300);
      await fleet.lb.until("us-east4-new", true, 60);
      await settle(darkAt);
    });

    it("the other regions keep serving, a configuration change reaches them, and a new VM starts on the database", () => {
      expect(routed).toEqual({ "us-central1": expect.any(Number), "us-central1-new": expect.any(Number), "us-east4": expect.any(Number) });
      expect(["us-central1", "us-east4"].map((g) => fleet.servedThroughout(g, darkAt, now()))).toEqual(["us-central1", "us-east4"].map(GameDayFleet.served));
      expect(newVm.vm.journals().startupLog).not.toContain("starting Kong without its database");
      expect(fleet.through("us-east4-new", "/game-day/during-west-outage").status).toBe(200);
      results.push(`shared-db, us-west2 dark: a new route routed after ${Object.entries(routed).map(([n, s]) => `${n} ${s} s`).join(", ")}; a new us-east4 VM ready after ${newVm.readySeconds!.toFixed(1)} s`);
      observed["us-west2"] = GameDayFleet.report("us-west2", fleet.servedFrom(darkAt + 15), Object.values(routed).every((s) => s !== "never"), fleet.lb.healthy("us-east4-new"));
    });
  });

  describe("the primary refuses connections (its host answers, PostgreSQL does not)", () => {
    let refusedAt: number;
    let newVm: RunningVm;

    beforeAll(async () => {
      for (const name of ["us-west2", "us-west2-new"]) fleet.network.net.restore(fleet.vms[name].ns);
      await fleet.lb.until("us-west2", true, 60);
      refusedAt = now();
      fleet.network.net.refuse(fleet.network.primary!.ns);
      newVm = fleet.gateway("us-west2-refused", "us-west2");
      await newVm.ready(300);
      await fleet.lb.until("us-west2-refused", true, 60);
      await sleep(5_000);
    });

    afterAll(() => fleet?.network.net.restore(fleet.network.primary!.ns));

    it("running gateways keep passing every check and serving every request; a new VM boots from its fallback config and serves", () => {
      const running = ["us-central1", "us-east4", "us-west2"];
      expect(running.map((g) => fleet.servedThroughout(g, refusedAt, now()))).toEqual(running.map(GameDayFleet.served));
      expect(newVm.vm.journals().startupLog).toContain("starting Kong without its database, from /etc/kong/fallback.yaml");
      expect(fleet.through("us-west2-refused", "/echo").status).toBe(200);
      results.push(`shared-db, primary refusing connections: a new us-west2 VM ready from its fallback config after ${newVm.readySeconds!.toFixed(1)} s`);
    });
  });

  it("the README's outage table says what these game days showed", () => {
    expect(Object.keys(observed).sort()).toEqual(["us-central1", "us-east4", "us-west2"]);
    for (const report of Object.values(observed)) expect(readme()).toContain(renderOutageRow("shared-db", report, { "us-central1": "database", "us-east4": "replica" }));
  });
});

/**
 * Defect 2 of the outage issue on shared-db: Kong's `/status/ready` counts a router built with zero
 * routes (kong/status/ready.lua at 3.9.1), so a check on it passes while the database holds no route.
 * The migrator's first half runs alone here (the schema migrated, its entities not yet written),
 * the gateways start their Kong, and only then are the routes written.
 */
describeVm("game days: shared-db (us-multi), a first deploy whose routes come after the gateways' Kong runs", () => {
  const gateways = ["us-central1", "us-east4"];
  let fleet: GameDayFleet;
  let heldFrom: number;
  let routesWrittenAt: number;

  beforeAll(async () => {
    fleet = await GameDayFleet.of(harness, "us-multi", "shared-db-routes-late");
    fleet.migrate("us-central1", { entities: false });
    const booting = gateways.map((region) => fleet.gateway(region, region));
    // Kong runs on each gateway, without a route: its proxy answers Kong's own 404.
    for (const started = Date.now(); gateways.some((g) => fleet.through(g, "/echo").status !== 404); await sleep(1_000)) {
      if (Date.now() - started > 240_000) throw new Error("the gateways' Kong did not start without routes");
    }
    heldFrom = now();
    // Four of the load balancer's probes of each gateway while Kong has no route.
    await sleep(20_000);
    fleet.migrate("us-central1");
    routesWrittenAt = Number(fleet.network.primary!.psql("SELECT extract(epoch FROM min(updated_at)) FROM entities", {}, "kong"));
    for (const check of await Promise.all(booting.map((vm) => vm.ready(300)))) if (!check.startup_ok) throw new Error("a gateway's first boot failed");
    for (const region of gateways) await fleet.lb.until(region, true, 60);
  });

  afterAll(() => fleet?.stop());

  it("no gateway passes the load balancer's check while its Kong runs without routes; each passes once they are written", () => {
    for (const g of gateways) {
      const probes = fleet.lb.between(g, "health", heldFrom, routesWrittenAt);
      expect([g, probes.length >= 3, probes.filter((p) => p.status === 200).length]).toEqual([g, true, 0]);
      expect(fleet.lb.healthy(g)).toBe(true);
    }
    results.push(`shared-db, routes late: ${gateways.map((g) => `${g} ${fleet.lb.between(g, "health", heldFrom, routesWrittenAt).length} probes failed while Kong had no route, healthy ${(fleet.lb.between(g, "health", routesWrittenAt).find((e) => e.changed && e.healthy)!.t - routesWrittenAt).toFixed(1)} s after they were written`).join("; ")}`);
  });
});

/**
 * Kong's database fails over (README, Runbooks: "The database's region is lost"): the primary's
 * region goes dark, the replica is promoted as Cloud SQL's promoteReplica does, and the VMs of the
 * flipped stack (`database.regions: [us-east4]`, the one-line change) boot from its scripts. The
 * running gateways wait for their groups' rollout as they would, serving from their cache meanwhile.
 */
describeVm("game days: shared-db (us-multi), Kong's database fails over to the replica's region", () => {
  let fleet: GameDayFleet;
  let darkAt: number;
  let migratorLog: string;
  let primaryAddress: string;
  let changeStatus: number;
  let routed: Record<string, number | "never">;
  const flipped = { "us-east4-flipped": "us-east4", "us-west2-flipped": "us-west2" };
  const pgHostOf = (script: string) => kongConfValue(kongConf(script), "pg_host");

  beforeAll(async () => {
    fleet = await GameDayFleet.of(harness, "us-multi", "failover");
    fleet.migrate("us-central1");
    await fleet.serving({ "us-central1": "us-central1", "us-east4": "us-east4", "us-west2": "us-west2" });
    if (fleet.addRoute("us-east4", "before-failover") !== 200) throw new Error("the Admin API refused a change before the outage");
    await fleet.routedWithin(["us-east4", "us-west2"], "before-failover", 60);
    primaryAddress = pgHostOf(fleet.roles.scripts.migrator)!;
    darkAt = now();
    fleet.network.net.dark(fleet.network.primary!.ns);
    fleet.network.net.dark(fleet.vms["us-central1"].ns);
    // What `pulumi up` of the flipped config does: the replica promoted, the migrator and the templates anew.
    fleet.network.replica!.promote();
    await fleet.applyStack({ database: { regions: ["us-east4"] } });
    migratorLog = fleet.migrate("us-east4", { name: "migrator-flipped" });
    await fleet.serving(flipped);
    changeStatus = fleet.addRoute("us-east4-flipped", "after-failover");
    routed = await fleet.routedWithin(Object.keys(flipped), "after-failover", 60);
  });

  afterAll(() => fleet?.stop());

  it("the flipped stack's VMs and migrator name the promoted replica, none the lost primary", () => {
    const scripts = [fleet.roles.scripts.migrator, ...Object.values(fleet.roles.byRegion.gateway)];
    expect(new Set(scripts.map(pgHostOf))).toEqual(new Set([fleet.network.replica!.options.address]));
    expect(scripts.filter((script) => script.includes(primaryAddress))).toEqual([]);
  });

  it("the migrator finds Kong's schema up to date on the promoted replica and writes the entities there", () => {
    expect(migratorLog).toContain("Kong's database schema is up to date");
    expect(fleet.network.replica!.psql("SELECT count(*) FROM entities WHERE key = 'routes/before-failover'", {}, "kong")).toBe("1");
  });

  it("new VMs start on the new primary, not their fallback config, and configuration changes propagate again", () => {
    for (const name of Object.keys(flipped)) expect([name, fleet.vms[name].running.vm.journals().startupLog.includes("starting Kong without its database")]).toEqual([name, false]);
    expect(changeStatus).toBe(200);
    expect(routed).toEqual({ "us-east4-flipped": expect.any(Number), "us-west2-flipped": expect.any(Number) });
    results.push(`shared-db failover: a change through the new primary routed after ${Object.entries(routed).map(([n, s]) => `${n} ${s} s`).join(", ")}; new VMs ready after ${Object.keys(flipped).map((n) => `${fleet.vms[n].running.readySeconds!.toFixed(1)} s`).join(", ")}`);
  });

  it("the gateways of the old template keep serving from their cache until their group replaces them", () => {
    expect(["us-east4", "us-west2"].map((g) => fleet.servedThroughout(g, darkAt, now()))).toEqual(["us-east4", "us-west2"].map(GameDayFleet.served));
  });

  it("the old primary, back, got nothing written after the failover: no split brain", () => {
    fleet.network.net.restore(fleet.network.primary!.ns);
    expect(fleet.network.primary!.psql("SELECT key FROM entities WHERE key LIKE 'routes/%-failover' ORDER BY key", {}, "kong")).toBe("routes/before-failover");
    expect(fleet.network.replica!.psql("SELECT key FROM entities WHERE key LIKE 'routes/%-failover' ORDER BY key", {}, "kong")).toBe("routes/after-failover\nroutes/before-failover");
  });
});

/**
 * Gateways that keep Kong's configuration on the VM: each region in turn goes dark (the one before
 * it back), a new VM boots in another region, and the others do not notice.
 */
describeVm.each([
  ["dbless", "us-dbless"],
  ["sidecar", "us-sidecar"],
])("game days: %s (%s), each region goes dark in turn", (topology, stack) => {
  let fleet: GameDayFleet;

  beforeAll(async () => {
    fleet = await GameDayFleet.of(harness, stack, topology);
    await fleet.serving({ "us-central1": "us-central1", "us-east4": "us-east4" });
  });

  afterAll(() => fleet?.stop());

  // [lost region, the region before it (back now), a new VM's name and region]
  describe.each([
    ["us-central1", undefined, "us-west2", "us-west2"],
    ["us-east4", "us-central1", "us-central1-new", "us-central1"],
    ["us-west2", "us-east4", "us-east4-new", "us-east4"],
  ])("%s goes dark", (lost, before, newName, newRegion) => {
    const inRegion = (region: string) => Object.keys(fleet.vms).filter((name) => fleet.vms[name].region === region);
    let darkAt: number;
    let newVm: RunningVm;

    beforeAll(async () => {
      if (before) {
        for (const name of inRegion(before)) fleet.network.net.restore(fleet.vms[name].ns);
        for (const name of inRegion(before)) await fleet.lb.until(name, true, 60);
      }
      darkAt = now();
      for (const name of inRegion(lost)) fleet.network.net.dark(fleet.vms[name].ns);
      newVm = fleet.gateway(newName, newRegion);
      await newVm.ready(300);
      await fleet.lb.until(newName, true, 60);
      // Requests reach it from now on.
      await settle(darkAt);
    });

    it("the other regions' gateways keep passing every check and serving every request", () => {
      const others = Object.keys(fleet.vms).filter((name) => fleet.vms[name].region !== lost && name !== newName);
      expect(others.length).toBeGreaterThan(0);
      expect(others.map((name) => fleet.servedThroughout(name, darkAt, now()))).toEqual(others.map(GameDayFleet.served));
      expect(inRegion(lost).map((name) => fleet.lb.healthy(name))).toEqual(inRegion(lost).map(() => false));
    });

    it("a new VM (a rollout's, the autoscaler's or autohealing's) boots to ready and serves, with every route", () => {
      expect(fleet.through(newName, "/echo").status).toBe(200);
      results.push(`${topology}, ${lost} dark: a new ${newRegion} VM ready after ${newVm.readySeconds!.toFixed(1)} s, taken by the load balancer after ${fleet.healthyAfter(newName).toFixed(1)} s`);
    });

    it("the README's outage table says what this game day showed", () => {
      // A configuration change is a rollout: a new VM with the new config, which is what joined here.
      const report = GameDayFleet.report(lost, fleet.servedFrom(darkAt + 15), fleet.lb.healthy(newName), fleet.lb.healthy(newName));
      expect(readme()).toContain(renderOutageRow(topology, report, {}));
    });
  });
});

describeVm("game days: standalone (us-standalone), each region goes dark in turn", () => {
  const regions = ["us-central1", "us-east4", "us-west2"];
  let fleet: GameDayFleet;
  /** What each outage showed, in the README table's terms. */
  const observed: Record<string, { servedFrom: string[]; configChanges: boolean; newVms: boolean }> = {};
  /** The URL of its region's Kong that the echo service of a region calls ({{kong}}/echo). */
  const kongUrl = (region: string) => /^KONG_URL="([^"]+)"$/m.exec(filesWrittenBy(fleet.roles.byRegion["service-tier"][region])["/etc/geo-api-layer/echo.env"])![1];
  const kongProxyPort = (region: string) => Number(kongPort(fleet.roles.byRegion["kong-tier"][region], "proxy_listen"));
  /** A region's Kong service of the echo route (startup/kong-entities.ts regionalKongEntities). */
  const echoServiceOf = (region: string) => `echo-${compactRegionName(region)}`;
  const vmsOf = (region: string) => Object.keys(fleet.vms).filter((name) => fleet.vms[name].region === region);
  /** A Kong tier VM routes its region's echo path to its region's tier. */
  const routesOwnRegion = (name: string, region: string) => {
    const answer = fleet.through(name, new URL(kongUrl(region)).pathname, kongProxyPort(region));
    return answer.status === 200 && JSON.parse(answer.body).region === region;
  };

  beforeAll(async () => {
    fleet = await GameDayFleet.of(harness, "us-standalone", "standalone", { overrides: { entryService: "echo" } });
    fleet.migrate("us-central1");
    // In the harness an internal load balancer's address is the one VM behind it.
    const internal = fleet.roles.internalAddresses;
    const booting = regions.flatMap((region) => [
      fleet.start(`${region}-kong`, "kong-tier", region, { behindLoadBalancer: false, addresses: [internal[region].kong] }),
      fleet.start(`${region}-echo`, "service-tier", region, { behindLoadBalancer: true, addresses: [internal[region].echo] }),
    ]);
    for (const check of await Promise.all(booting.map((vm) => vm.ready(300)))) if (!check.startup_ok) throw new Error("a tier's first boot failed");
    for (const region of regions) await fleet.lb.until(`${region}-echo`, true, 60);
  });

  afterAll(() => fleet?.stop());

  describe("the primary's region (us-central1) goes dark", () => {
    let darkAt: number;
    let changeStatus: number;
    let newKong: RunningVm;

    beforeAll(async () => {
      darkAt = now();
      fleet.network.net.dark(fleet.network.primary!.ns);
      for (const name of vmsOf("us-central1")) fleet.network.net.dark(fleet.vms[name].ns);
      changeStatus = fleet.addRoute("us-east4-kong", "while-primary-dark", echoServiceOf("us-east4"));
      newKong = fleet.start("us-east4-kong-new", "kong-tier", "us-east4", { behindLoadBalancer: false });
      await newKong.ready(300);
      await settle(darkAt);
    });

    it("the entry tiers of the other regions keep passing every check and serving every request", () => {
      expect(["us-east4-echo", "us-west2-echo"].map((t) => fleet.servedThroughout(t, darkAt, now()))).toEqual(["us-east4-echo", "us-west2-echo"].map(GameDayFleet.served));
    });

    it("their services still reach their own region's tiers through their region's Kong, from Kong's cache", () => {
      const answer = fleet.fromVm("us-east4-echo", kongUrl("us-east4"));
      expect([answer.status, JSON.parse(answer.body).region]).toEqual([200, "us-east4"]);
    });

    it("Kong's configuration cannot change: the Admin API's write needs the primary", () => {
      expect(changeStatus).toBe(500);
    });

    it("a new Kong tier VM boots to ready from its region's fallback routes and routes them to its region's tiers", () => {
      expect(newKong.vm.journals().startupLog).toContain("starting Kong without its database, from /etc/kong/fallback.yaml");
      expect(routesOwnRegion("us-east4-kong-new", "us-east4")).toBe(true);
      results.push(`standalone, primary dark: a new us-east4 Kong tier VM ready after ${newKong.readySeconds!.toFixed(1)} s, routing ${new URL(kongUrl("us-east4")).pathname} to us-east4's tier`);
      observed["us-central1"] = { servedFrom: fleet.servedFrom(darkAt + 15), configChanges: changeStatus === 200, newVms: routesOwnRegion("us-east4-kong-new", "us-east4") };
    });
  });

  describe.each([
    // [lost region, its database instance, the region before it (back now), who takes a change, a new Kong tier's region]
    ["us-east4", "replica", "us-central1", "us-central1-kong", "us-west2"],
    ["us-west2", undefined, "us-east4", "us-central1-kong", "us-central1"],
  ] as const)("%s goes dark", (lost, instance, before, changedVia, newRegion) => {
    const newName = `${newRegion}-kong-new`;
    let darkAt: number;
    let changeStatus: number;
    let routed: Record<string, number | "never">;
    let newKong: RunningVm;

    beforeAll(async () => {
      if (before === "us-central1") fleet.network.net.restore(fleet.network.primary!.ns);
      if (before === "us-east4") fleet.network.net.restore(fleet.network.replica!.ns);
      for (const name of vmsOf(before)) fleet.network.net.restore(fleet.vms[name].ns);
      await fleet.lb.until(`${before}-echo`, true, 60);
      darkAt = now();
      if (instance === "replica") fleet.network.net.dark(fleet.network.replica!.ns);
      for (const name of vmsOf(lost)) fleet.network.net.dark(fleet.vms[name].ns);
      const change = `during-${lost}-outage`;
      changeStatus = fleet.addRoute(changedVia, change, echoServiceOf("us-central1"));
      const kongs = regions.filter((r) => r !== lost).flatMap((r) => vmsOf(r).filter((name) => name.includes("-kong")));
      // 120 s: a Kong back from its fallback config returns to the database first (startup/kong-fallback.ts).
      routed = await fleet.routedWithin(kongs, change, 120, kongProxyPort("us-central1"));
      newKong = fleet.start(newName, "kong-tier", newRegion, { behindLoadBalancer: false });
      await newKong.ready(300);
      await settle(darkAt);
    });

    it("the other regions' entry tiers keep serving, and a configuration change reaches every other Kong", () => {
      const entries = regions.filter((r) => r !== lost).map((r) => `${r}-echo`);
      expect(entries.map((t) => fleet.servedThroughout(t, darkAt, now()))).toEqual(entries.map(GameDayFleet.served));
      expect(changeStatus).toBe(200);
      expect(Object.values(routed).length).toBeGreaterThan(1);
      expect(Object.entries(routed).filter(([, s]) => s === "never")).toEqual([]);
    });

    it("a new Kong tier VM starts on the database, not its fallback routes, and routes its region's tiers", () => {
      expect(newKong.vm.journals().startupLog).not.toContain("starting Kong without its database");
      expect(routesOwnRegion(newName, newRegion)).toBe(true);
      results.push(`standalone, ${lost} dark: a change routed after ${Object.entries(routed).map(([n, s]) => `${n} ${s} s`).join(", ")}; a new ${newRegion} Kong tier VM ready after ${newKong.readySeconds!.toFixed(1)} s`);
      observed[lost] = { servedFrom: fleet.servedFrom(darkAt + 15), configChanges: changeStatus === 200 && Object.values(routed).every((s) => s !== "never"), newVms: routesOwnRegion(newName, newRegion) };
    });
  });

  it("the README's outage table says what these game days showed (its regional-routes column is the plan's: test/topologies.test.ts)", () => {
    expect(Object.keys(observed).sort()).toEqual(regions);
    const roles: Record<string, string> = { "us-central1": "database", "us-east4": "replica" };
    for (const [lost, seen] of Object.entries(observed)) {
      const row = readme().split("\n").find((line) => line.startsWith(`| standalone | ${lost}${roles[lost] ? ` (${roles[lost]})` : ""} |`));
      const cells = row?.split("|").map((c) => c.trim());
      const yesNo = (ok: boolean) => (ok ? "yes" : "no");
      expect([lost, cells?.[3], cells?.[5], cells?.[6]]).toEqual([lost, seen.servedFrom.join(", "), yesNo(seen.configChanges), yesNo(seen.newVms)]);
    }
  });
});
