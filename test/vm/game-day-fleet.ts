/**
 * A game day's fleet: a stack's gateways as VMs that stay up, on the stack's network with Kong's
 * database, behind the load balancer (test/vm/load-balancer.ts), and what can be asked of them from
 * outside: requests through a VM's Kong, changes through its Admin API, what the checks saw.
 */
import { spawnSync } from "child_process";
import { mkdirSync } from "fs";
import { join } from "path";
import type { OutageReport } from "../../plan/outage";
import { Harness, roles, Roles, secretsOf, StackNetwork, vmFor } from "./fleet";
import type { RunningVm, VmSpec } from "./harness";
import { LoadBalancer, sentAt, sleep } from "./load-balancer";

function curl(ns: string, url: string): { status: number; body: string } {
  const result = spawnSync("ip", ["netns", "exec", ns, "curl", "-s", "-m", "5", "-w", "\n%{http_code}", url], { encoding: "utf8" });
  const lines = result.stdout.split("\n");
  return { status: Number(lines.pop()), body: lines.join("\n") };
}

export interface FleetVm {
  running: RunningVm;
  ns: string;
  address: string;
  region: string;
}

export class GameDayFleet {
  readonly network: StackNetwork;
  readonly lb: LoadBalancer;
  readonly vms: Record<string, FleetVm> = {};
  /** The port the load balancer sends requests to: Kong's proxy, or standalone's entry service. */
  private readonly backendPort: number;

  private constructor(
    private readonly harness: Harness,
    private readonly stack: string,
    public roles: Roles,
    readonly dir: string,
    options: { replicaApplyDelaySec?: number },
  ) {
    mkdirSync(dir, { recursive: true });
    this.network = new StackNetwork(join(dir, "network"), roles, options);
    this.backendPort = roles.loadBalancer.servingPort;
    // The stack's own load balancer check (components/global-load-balancer.ts), as Google runs it.
    const check = { port: roles.loadBalancer.port, path: roles.loadBalancer.requestPath, interval: 5, timeout: 5, healthy: 2, unhealthy: 2 };
    this.lb = new LoadBalancer(this.network.net, dir, check, { address: roles.loadBalancer.address, requestPath: "/echo", servingPort: this.backendPort });
  }

  static async of(harness: Harness, stack: string, label: string, options: { replicaApplyDelaySec?: number; overrides?: Record<string, unknown> } = {}): Promise<GameDayFleet> {
    return new GameDayFleet(harness, stack, await roles(harness, stack, options.overrides), join(harness.work, label), options);
  }

  /**
   * The stack with `overrides` applied, as a `pulumi up` of that config change would leave it: the
   * VMs started from now on (and the migrator) get its boot scripts; running ones keep theirs,
   * as a group's VMs do until its rollout replaces them. The network and database stay.
   */
  async applyStack(overrides: Record<string, unknown>): Promise<void> {
    this.roles = await roles(this.harness, this.stack, overrides);
  }

  /**
   * Boots the stack's migrator to its power-off (a VM called `name`); its boot log, or a failure
   * with it when it did not migrate. With `entities: false` its list of Kong's entities is
   * emptied: the database migrated, no route yet, as a first deploy's database is until the
   * migrator has written them.
   */
  migrate(region: string, { entities = true, name }: { entities?: boolean; name?: string } = {}): string {
    const script = entities ? this.roles.scripts.migrator : this.roles.scripts.migrator.replace(/^(write_file \/etc\/kong\/admin-requests\.tsv 0644 <<'(\w+)'\n)[\s\S]*?^\2$/m, "$1$2");
    if (!entities && script === this.roles.scripts.migrator) throw new Error("the migrator's script writes no admin-requests.tsv to empty");
    name ??= entities ? "migrator" : "migrator-schema-only";
    const migrated = vmFor(this.harness, `${this.dir.split("/").pop()}-${name}`, script, this.roles, this.network.vmHost(name, region), false).boot();
    if (!/migrations and Kong entities applied/.test(migrated.startupLog)) throw new Error(`the migrator failed:\n${migrated.startupLog}`);
    return migrated.startupLog;
  }

  /** A gateway VM of `region`, started and behind the load balancer from now on. */
  gateway(name: string, region: string): RunningVm {
    return this.start(name, "gateway", region, { behindLoadBalancer: true });
  }

  /**
   * A VM of a role in `region`, started; with `addresses` besides its own (an internal load
   * balancer's); `change` alters what the program gave it (its script, its secrets).
   */
  start(name: string, role: string, region: string, options: { behindLoadBalancer: boolean; addresses?: string[]; change?: (spec: { script: string; secrets: Record<string, string> }) => Partial<VmSpec> }): RunningVm {
    const ns = this.network.vmHost(name, region, options.addresses);
    const services = role !== "kong-tier" && role !== "control-plane";
    const script = this.roles.byRegion[role][region];
    const changed = options.change?.({ script, secrets: secretsOf(script) }) ?? {};
    const running = vmFor(this.harness, `${this.dir.split("/").pop()}-${name}`, changed.script ?? script, this.roles, ns, services, { forwarded: [], ...changed }).start();
    this.vms[name] = { running, ns, address: this.network.addressOf(ns), region };
    if (options.behindLoadBalancer) this.lb.add(name, this.vms[name].address);
    return running;
  }

  /** A hybrid control plane in `region`, at the address of the control planes' internal load balancer. */
  async controlPlane(name: string, region: string): Promise<RunningVm> {
    const running = this.start(name, "control-plane", region, { behindLoadBalancer: false, addresses: [this.roles.internalAddresses[region].cp] });
    if (!(await running.ready(300)).startup_ok) throw new Error(`the control plane's boot failed:\n${running.vm.journals().startupLog}`);
    return running;
  }

  /** Powers a VM off and boots it again from its own disk, as a reboot does; it stays behind the load balancer. */
  async reboot(name: string): Promise<RunningVm> {
    const vm = this.vms[name];
    await vm.running.stop();
    vm.running = vm.running.vm.start();
    return vm.running;
  }

  /** A request from inside a VM (its services' view), to `url`: status and body. */
  fromVm(name: string, url: string): { status: number; body: string } {
    return curl(this.vms[name].ns, url);
  }

  /** Starts gateways and waits until each boot script is done and the load balancer takes them. */
  async serving(names: Record<string, string>): Promise<void> {
    const booting = Object.entries(names).map(([name, region]) => this.gateway(name, region));
    for (const check of await Promise.all(booting.map((vm) => vm.ready(300)))) {
      if (!check.startup_ok) throw new Error("a gateway's boot failed");
    }
    for (const name of Object.keys(names)) await this.lb.until(name, true, 60);
  }

  /** A request to a VM from outside it (the load balancer's namespace), to the load balancer's port or another. */
  through(name: string, path: string, port = this.backendPort): { status: number; body: string } {
    return curl(this.network.net.cloud, `http://${this.vms[name].address}:${port}${path}`);
  }

  /**
   * A route `/game-day/<name>` to Kong's service `service`, added through a VM's own Admin API
   * (loopback), as someone changing Kong's configuration would: its HTTP status. No route of the
   * stack is a prefix of it.
   */
  addRoute(via: string, name: string, service = "echo"): number {
    const body = JSON.stringify({ name, paths: [`/game-day/${name}`], service: { name: service }, tags: ["game-day"] });
    const url = `http://127.0.0.1:8001/routes/${name}`;
    const result = spawnSync(
      "ip",
      ["netns", "exec", this.vms[via].ns, "curl", "-s", "-m", "30", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "Content-Type: application/json", "--data", body, url],
      { encoding: "utf8" },
    );
    return Number(result.stdout);
  }

  /** Seconds until each VM routes the added route `name` to the echo service (on `port`), at most `timeoutSec`. */
  async routedWithin(names: string[], name: string, timeoutSec: number, port = this.backendPort): Promise<Record<string, number | "never">> {
    const started = Date.now();
    const seen: Record<string, number | "never"> = {};
    while (names.some((n) => seen[n] === undefined) && Date.now() - started < timeoutSec * 1000) {
      for (const n of names.filter((x) => seen[x] === undefined)) {
        const answer = this.through(n, `/game-day/${name}`, port);
        if (answer.status === 200 && answer.body.includes('"region"')) seen[n] = Math.round((Date.now() - started) / 100) / 10;
      }
      await sleep(500);
    }
    for (const n of names.filter((x) => seen[x] === undefined)) {
      seen[n] = "never";
      // What the node's Kong said meanwhile: the only account of a miss a CI log keeps.
      const kongLog = this.vms[n].running.vm.journals().kongLog.trim().split("\n").slice(-20).join("\n    ");
      process.stderr.write(`${n} never routed /game-day/${name} within ${timeoutSec} s; its Kong's last lines:\n    ${kongLog}\n`);
    }
    return seen;
  }

  /** Whether every probe of `backend` in [from, to] passed and every request it got was answered; what failed. */
  servedThroughout(backend: string, from: number, to: number) {
    const probes = this.lb.between(backend, "health", from, to);
    const requests = this.lb.between(backend, "request", from, to);
    return {
      backend,
      probes: probes.length > 0,
      failedProbes: probes.filter((p) => p.status !== 200).map((p) => `${p.status} after ${p.seconds} s`),
      alwaysHealthy: probes.every((p) => p.healthy),
      requests: requests.length > 0,
      failedRequests: requests.filter((q) => q.status !== 200).map((q) => `${q.status} after ${q.seconds} s, sent at +${(sentAt(q) - from).toFixed(1)} s`),
    };
  }

  /** What servedThroughout says of a backend that served throughout. */
  static served(backend: string) {
    return { backend, probes: true, failedProbes: [], alwaysHealthy: true, requests: true, failedRequests: [] };
  }

  /** The regions whose VMs answered requests through the load balancer since `from`. */
  servedFrom(from: number): string[] {
    const answered = Object.entries(this.vms).filter(([name]) => this.lb.between(name, "request", from).some((q) => q.status === 200));
    return [...new Set(answered.map(([, vm]) => vm.region))].sort();
  }

  /** Seconds from a VM's container start until the load balancer took it. */
  healthyAfter(name: string): number {
    const healthy = this.lb.between(name, "health", 0).find((e) => e.changed && e.healthy);
    return healthy ? healthy.t - this.vms[name].running.startedAt / 1000 : NaN;
  }

  /** An outage's observations as plan/outage.ts reports one (for the README's table). */
  static report(lostRegion: string, servedFrom: string[], configChanges: boolean, newVms: boolean): OutageReport {
    return { lostRegion, routes: [{ route: "echo", paths: ["/echo"], entry: "global", servedFrom }], configChanges, newVms };
  }

  async stop(): Promise<void> {
    this.lb.stop();
    await Promise.all(Object.values(this.vms).map((vm) => vm.running.stop()));
    this.network.destroy();
  }
}
