/** Google's load balancer in front of the harness's VMs (test/vm/load-balancer.py), and what it saw. */
import type { ChildProcess } from "child_process";
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync } from "fs";
import { join } from "path";
import type { TestNetwork } from "./network";

export interface HealthCheck {
  port: number;
  path: string;
  interval: number;
  timeout: number;
  healthy: number;
  unhealthy: number;
}

export interface LoadBalancerEvent {
  t: number;
  kind: "health" | "request";
  backend: string;
  status: number;
  seconds: number;
  healthy?: boolean;
  changed?: boolean;
  body?: string;
}

/** When a request was sent: an event is written when it ends. */
export const sentAt = (e: LoadBalancerEvent) => e.t - e.seconds;

export class LoadBalancer {
  private readonly configFile: string;
  private readonly eventsFile: string;
  private readonly config: Record<string, unknown> & { backends: Record<string, { address: string; port: number }> };
  private readonly process: ChildProcess;

  constructor(
    network: TestNetwork,
    dir: string,
    check: HealthCheck,
    options: { address: string; requestPath: string; servingPort: number; untilSec?: number },
  ) {
    this.configFile = join(dir, "load-balancer.json");
    this.eventsFile = join(dir, "load-balancer-events.jsonl");
    this.config = {
      backends: {},
      path: check.path,
      check_port: check.port,
      interval: check.interval,
      timeout: check.timeout,
      healthy: check.healthy,
      unhealthy: check.unhealthy,
      request_path: options.requestPath,
      request_every: 1,
      address: options.address,
      until: Date.now() / 1000 + (options.untilSec ?? 1800),
      port: options.servingPort,
    };
    this.write();
    const log = openSync(join(dir, "load-balancer.log"), "a");
    this.process = network.spawn(network.cloud, ["/usr/bin/python3", join(__dirname, "load-balancer.py"), this.configFile, this.eventsFile], log);
    closeSync(log);
  }

  /** Written whole and renamed into place: the balancer's threads read it at any moment. */
  private write(): void {
    writeFileSync(`${this.configFile}.new`, JSON.stringify(this.config));
    renameSync(`${this.configFile}.new`, this.configFile);
  }

  /** A backend (a VM's address) behind the load balancer from now on. */
  add(name: string, address: string): void {
    this.config.backends[name] = { address, port: this.config.port as number };
    this.write();
  }

  events(): LoadBalancerEvent[] {
    if (!existsSync(this.eventsFile)) return [];
    return readFileSync(this.eventsFile, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
  }

  /**
   * Events of a backend in [from, to] (epoch seconds): probes by when they were judged, requests by
   * when they were sent. An event is written when it ends, and a request sent into a region just
   * before it went dark ends 30 s later, when the next scenario may have begun: it is the outage's.
   */
  between(backend: string, kind: LoadBalancerEvent["kind"], from: number, to = Infinity): LoadBalancerEvent[] {
    const at = (e: LoadBalancerEvent) => (e.kind === "request" ? sentAt(e) : e.t);
    return this.events().filter((e) => e.backend === backend && e.kind === kind && at(e) >= from && at(e) <= to);
  }

  /** Whether the backend is healthy, by its latest probe. */
  healthy(backend: string): boolean {
    const probes = this.events().filter((e) => e.backend === backend && e.kind === "health");
    return probes[probes.length - 1]?.healthy ?? false;
  }

  /** Waits until `backend` is healthy (or unhealthy, with `healthy = false`); seconds waited. */
  async until(backend: string, healthy: boolean, timeoutSec: number): Promise<number> {
    const started = Date.now();
    while (this.healthy(backend) !== healthy) {
      if (Date.now() - started > timeoutSec * 1000) throw new Error(`${backend} not ${healthy ? "healthy" : "unhealthy"} within ${timeoutSec} s`);
      await sleep(500);
    }
    return (Date.now() - started) / 1000;
  }

  stop(): void {
    this.process.kill();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
