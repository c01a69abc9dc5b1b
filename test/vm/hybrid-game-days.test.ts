/**
 * Hybrid's game days: a control plane on real PostgreSQL and data planes in three regions boot for
 * real; the data planes take their configuration from the control plane over TLS with the
 * program's cluster certificate (the stand-in Kong follows kong/clustering/*: test/vm/kong-package);
 * then the control planes' region goes dark, and comes back.
 */
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { mockKongClusterCertificate } from "../../plan/mock-cloud";
import { OutageReport, renderOutageRow } from "../../plan/outage";
import { projectDir } from "../../plan/stack-file";
import { kongConfValue } from "../../startup/kong-conf";
import { describeVm, harnessFor, kongConf } from "./fleet";
import { GameDayFleet } from "./game-day-fleet";
import type { RunningVm } from "./harness";
import { sleep } from "./load-balancer";

jest.setTimeout(1800_000);

const harness = harnessFor("hybrid");
const results: string[] = [];
afterAll(() => {
  if (results.length) process.stderr.write(`vm harness hybrid game days:\n  ${results.join("\n  ")}\n`);
});
const now = () => Date.now() / 1000;
const dataPlanes = { "us-central1": "us-central1", "us-east4": "us-east4", "us-west2": "us-west2" };

/** Another cluster certificate and key, made as `kong hybrid gen_cert` makes them: not the stack's. */
function otherClusterPair(): { certificate: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "other-cluster-cert-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes", "-subj", "/CN=kong_clustering", "-days", "1095", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  return { certificate: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
}

describeVm("game days: hybrid (us-hybrid), control planes with the database in us-central1, data planes in every region", () => {
  let fleet: GameDayFleet;
  let controlPlane: RunningVm;
  let firstChange: Record<string, number | "never">;
  let impostor: RunningVm;
  const observed: Record<string, OutageReport> = {};

  beforeAll(async () => {
    fleet = await GameDayFleet.of(harness, "us-hybrid", "hybrid");
    fleet.migrate("us-central1");
    controlPlane = await fleet.controlPlane("cp", "us-central1");
    await fleet.serving(dataPlanes);
    if (fleet.addRoute("cp", "first-change") !== 200) throw new Error("the control plane's Admin API refused a change");
    firstChange = await fleet.routedWithin(Object.keys(dataPlanes), "first-change", 60);
    // A data plane with a certificate and key that are not the stack's.
    const other = otherClusterPair();
    impostor = fleet.start("impostor", "gateway", "us-east4", {
      behindLoadBalancer: false,
      change: ({ script, secrets }) => ({
        script: script.replace(mockKongClusterCertificate, other.certificate),
        secrets: Object.fromEntries(Object.entries(secrets).map(([id, value]) => [id, id.endsWith("cluster-key") ? Buffer.from(other.key).toString("base64") : value])),
      }),
    });
    await impostor.ready(300);
    await sleep(15_000);
  });

  afterAll(() => fleet?.stop());

  it("boots the control plane on the database and the data planes without one, each to ready", () => {
    const cpLog = controlPlane.vm.journals();
    expect(cpLog.startupLog).toContain("Kong's database schema is up to date");
    for (const name of Object.keys(dataPlanes)) {
      const { startupLog } = fleet.vms[name].running.vm.journals();
      expect([name, startupLog.includes("no configuration from the control planes on this disk yet"), /ready in \d+ s/.test(startupLog)]).toEqual([name, true, true]);
    }
    results.push(`hybrid: control plane ready ${controlPlane.readySeconds!.toFixed(1)} s after its container started; data planes ${Object.keys(dataPlanes).map((n) => `${n} ${fleet.vms[n].running.readySeconds!.toFixed(1)} s`).join(", ")}`);
  });

  it("gives every data plane its configuration from the control plane over TLS with the program's certificate", () => {
    for (const name of Object.keys(dataPlanes)) {
      expect([name, fleet.vms[name].running.vm.journals().kongUnitLog.includes("received reconfigure frame from control plane")]).toEqual([name, true]);
      expect([name, fleet.through(name, "/echo").status]).toEqual([name, 200]);
    }
    expect(controlPlane.vm.journals().kongUnitLog).toMatch(/data plane 10\.\S+ connected \(version 3\.9\.1\)/);
  });

  it("carries a change through the control plane's Admin API to every data plane in seconds, without a rollout", () => {
    expect(firstChange).toEqual({ "us-central1": expect.any(Number), "us-east4": expect.any(Number), "us-west2": expect.any(Number) });
    results.push(`hybrid: a route added through the control plane's Admin API routed after ${Object.entries(firstChange).map(([n, s]) => `${n} ${s} s`).join(", ")}`);
  });

  it("refuses a data plane whose certificate is not the stack's: it gets nothing pushed, and serves only its fallback config", () => {
    expect(controlPlane.vm.journals().kongUnitLog).toMatch(/data plane 10\.\S+: TLS handshake failed|presented incorrect client certificate/);
    const impostorLog = impostor.vm.journals().kongUnitLog;
    expect(impostorLog).toContain("connection to control plane wss://");
    expect(impostorLog).not.toContain("received reconfigure frame");
    expect(fleet.through("impostor", "/game-day/first-change").status).toBe(404);
  });

  describe("the control planes' region (us-central1) goes dark, the database's with it", () => {
    let darkAt: number;
    let rebooted: RunningVm;
    let fresh: RunningVm;

    beforeAll(async () => {
      darkAt = now();
      for (const ns of [fleet.network.primary!.ns, fleet.vms.cp.ns, fleet.vms["us-central1"].ns]) fleet.network.net.dark(ns);
      rebooted = await fleet.reboot("us-east4");
      await rebooted.ready(300);
      await fleet.lb.until("us-east4", true, 60);
      fresh = fleet.gateway("us-west2-new", "us-west2");
      await fresh.ready(300);
      await fleet.lb.until("us-west2-new", true, 60);
      await sleep(10_000);
    });

    it("running data planes keep passing every check and serving every request", () => {
      expect(fleet.servedThroughout("us-west2", darkAt, now())).toEqual(GameDayFleet.served("us-west2"));
    });

    it("a rebooted data plane serves from the configuration it was last pushed (LMDB), the change made through the control plane included", () => {
      expect(rebooted.vm.journals().startupLog).toContain("starting from the configuration the control planes last pushed");
      // Only LMDB holds that route: the fallback config does not, and the control plane is dark.
      expect([fleet.through("us-east4", "/echo").status, fleet.through("us-east4", "/game-day/first-change").status]).toEqual([200, 200]);
    });

    it("a new data plane (a new disk) serves from the fallback config the program rendered, without the change made only through the Admin API", () => {
      expect(fresh.vm.journals().startupLog).toContain("no configuration from the control planes on this disk yet");
      expect([fleet.through("us-west2-new", "/echo").status, fleet.through("us-west2-new", "/game-day/first-change").status]).toEqual([200, 404]);
      results.push(`hybrid, control planes dark: a rebooted data plane ready after ${rebooted.readySeconds!.toFixed(1)} s, a new one after ${fresh.readySeconds!.toFixed(1)} s`);
      observed["us-central1"] = GameDayFleet.report("us-central1", fleet.servedFrom(darkAt + 15), fleet.addRoute("us-east4", "through-a-data-plane") === 200, fleet.lb.healthy("us-west2-new"));
    });
  });

  describe("the control planes come back", () => {
    let routed: Record<string, number | "never">;

    beforeAll(async () => {
      for (const ns of [fleet.network.primary!.ns, fleet.vms.cp.ns, fleet.vms["us-central1"].ns]) fleet.network.net.restore(ns);
      await fleet.lb.until("us-central1", true, 120);
      if (fleet.addRoute("cp", "after-return") !== 200) throw new Error("the control plane's Admin API refused a change once back");
      // A dead connection is noticed within PING_WAIT (45 s), then retried every 5 to 10 s.
      routed = await fleet.routedWithin(["us-central1", "us-east4", "us-west2", "us-west2-new"], "after-return", 120);
    });

    it("data planes reconnect and take a change, the new one the change made while it was away too", () => {
      expect(routed).toEqual({ "us-central1": expect.any(Number), "us-east4": expect.any(Number), "us-west2": expect.any(Number), "us-west2-new": expect.any(Number) });
      expect(fleet.through("us-west2-new", "/game-day/first-change").status).toBe(200);
      results.push(`hybrid, control planes back: a new route routed after ${Object.entries(routed).map(([n, s]) => `${n} ${s} s`).join(", ")}`);
    });
  });

  it("the README's outage table says what the control planes' region going dark showed", () => {
    const readme = readFileSync(join(projectDir, "README.md"), "utf8");
    expect(observed["us-central1"]).toBeDefined();
    expect(readme).toContain(renderOutageRow("hybrid", observed["us-central1"], { "us-central1": "database", "us-east4": "replica" }));
  });

  it("names the control planes' load balancer in every data plane's kong.conf", () => {
    for (const script of Object.values(fleet.roles.byRegion.gateway)) expect(kongConfValue(kongConf(script), "cluster_control_plane")).toBe(`${fleet.roles.internalAddresses["us-central1"].cp}:8005`);
  });
});
