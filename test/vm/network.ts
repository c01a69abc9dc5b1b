/**
 * The VM harness's network: network namespaces it creates and nothing else. A "cloud" namespace
 * holds a bridge that every host's veth joins, with the address of Google's health checkers and
 * front ends (35.191.0.9); each host (a VM, a PostgreSQL server) is a namespace of its own with its
 * addresses on its veth and on-link routes to the stack's ranges only, no default route, so no
 * packet can leave for any address outside these namespaces. An outage is what it is on a real
 * network: `dark` drops every packet to and from a host (nftables in its namespace: connects time
 * out), `refuse` answers its TCP ports with resets (connections refused).
 */
import { spawn, spawnSync } from "child_process";

/** Where Google's health checks and proxied requests come from, inside the harness's network. */
export const googleFrontEnd = "35.191.0.9";

/** Ranges the hosts route on the bridge: the VPC's subnets and Cloud SQL's (both 10/8 in the plans), Google's front ends. */
const onLink = ["10.0.0.0/8", "35.191.0.0/16"];

function ip(args: string[], input?: string): string {
  const result = spawnSync("ip", args, { encoding: "utf8", input });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

let created = 0;

export class TestNetwork {
  /** Short, so interface names stay within Linux's 15 characters. */
  readonly id: string;
  readonly cloud: string;
  private readonly hosts: string[] = [];

  constructor() {
    this.id = `g${process.pid % 10000}${created++}`;
    this.cloud = `${this.id}-cloud`;
    ip(["netns", "add", this.cloud]);
    this.exec(this.cloud, ["ip", "link", "set", "lo", "up"]);
    this.exec(this.cloud, ["ip", "link", "add", "br0", "type", "bridge"]);
    this.exec(this.cloud, ["ip", "address", "add", `${googleFrontEnd}/32`, "dev", "br0"]);
    this.exec(this.cloud, ["ip", "link", "set", "br0", "up"]);
    for (const range of onLink) this.exec(this.cloud, ["ip", "route", "add", range, "dev", "br0"]);
  }

  /** A host on the bridge with `addresses`; returns its namespace's name. */
  host(name: string, addresses: string[]): string {
    const ns = `${this.id}-${name}`;
    const veth = `${this.id}h${this.hosts.length}`;
    ip(["netns", "add", ns]);
    this.hosts.push(ns);
    ip(["link", "add", veth, "netns", ns, "type", "veth", "peer", "name", `${veth}p`, "netns", this.cloud]);
    this.exec(this.cloud, ["ip", "link", "set", `${veth}p`, "master", "br0", "up"]);
    this.exec(ns, ["ip", "link", "set", "lo", "up"]);
    this.exec(ns, ["ip", "link", "set", veth, "name", "eth0"]);
    for (const address of addresses) this.exec(ns, ["ip", "address", "add", `${address}/32`, "dev", "eth0"]);
    this.exec(ns, ["ip", "link", "set", "eth0", "up"]);
    for (const range of onLink) this.exec(ns, ["ip", "route", "add", range, "dev", "eth0"]);
    return ns;
  }

  /** Runs a command in a namespace; throws with its output when it fails. */
  exec(ns: string, command: string[], options: { input?: string; timeoutSec?: number; env?: Record<string, string> } = {}): string {
    const result = spawnSync("ip", ["netns", "exec", ns, ...command], {
      encoding: "utf8",
      input: options.input,
      timeout: (options.timeoutSec ?? 60) * 1000,
      env: { ...process.env, ...options.env },
    });
    if (result.status !== 0) throw new Error(`${command.join(" ")} in ${ns} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  /** A long-running command in a namespace. */
  spawn(ns: string, command: string[], logFile: number) {
    return spawn("ip", ["netns", "exec", ns, ...command], { stdio: ["ignore", logFile, logFile], detached: false });
  }

  /** Every packet to and from the host is dropped, as when its region goes dark. Its loopback stays. */
  dark(ns: string): void {
    this.cut(ns, `chain input { type filter hook input priority 0; policy drop; iif "lo" accept; }
  chain output { type filter hook output priority 0; policy drop; oif "lo" accept; }`);
  }

  /** The host answers every TCP connection with a reset: connections are refused. */
  refuse(ns: string): void {
    this.cut(ns, `chain input { type filter hook input priority 0; policy accept; iif "lo" accept; meta l4proto tcp reject with tcp reset; }`);
  }

  private cut(ns: string, chains: string): void {
    this.restore(ns);
    this.exec(ns, ["nft", "-f", "-"], { input: `table inet harness_outage {\n  ${chains}\n}\n` });
  }

  /** The host's network is whole again. */
  restore(ns: string): void {
    spawnSync("ip", ["netns", "exec", ns, "nft", "delete", "table", "inet", "harness_outage"], { stdio: "ignore" });
  }

  destroy(): void {
    for (const ns of [...this.hosts, this.cloud]) spawnSync("ip", ["netns", "delete", ns], { stdio: "ignore" });
  }
}
