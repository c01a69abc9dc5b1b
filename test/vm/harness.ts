/**
 * The VM harness: boots a rendered boot script on a real Debian 12 with systemd as PID 1
 * (systemd-nspawn, only its own loopback), the way Google's guest agent runs it: on every boot.
 * Real: systemd, journald, apt and Debian's packages (from a local repository), useradd, git, jq,
 * curl, PostgreSQL, nginx. Stand-ins, for what cannot be had here: Kong's package (kong-package/),
 * Google's metadata server, Secret Manager and guest agent (guest/, beside the harness's own probe
 * and check), the test service's repository.
 */
import { spawnSync } from "child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { join } from "path";
import { RootDirectory } from "../support/root-directory";

const here = __dirname;

/** Why the harness cannot run on this machine, or undefined when it can. */
export function harnessUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "it needs root to boot containers with systemd-nspawn";
  for (const tool of ["systemd-nspawn", "debootstrap", "apt-ftparchive", "dpkg-deb", "gpg", "openssl", "git", "journalctl"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

function run(command: string, args: string[], timeoutSec = 600): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: timeoutSec * 1000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.signal}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** The cached Debian 12 root file system (test/vm/build-rootfs.sh). */
export function baseRootfs(): string {
  return join(run("bash", [join(here, "build-rootfs.sh")], 900).trim().split("\n").pop()!, "rootfs");
}

export interface Standins {
  dir: string;
  kongKeyFingerprint: string;
  /** URL and commit of the test service's repository, as a stack's `run` names them. */
  echoRepository: string;
  echoRef: string;
}

export function prepareStandins(dir: string): Standins {
  run("bash", [join(here, "prepare-standins.sh"), dir]);
  return {
    dir,
    kongKeyFingerprint: readFileSync(join(dir, "kong-key-fingerprint"), "utf8").trim(),
    echoRepository: "https://git.test/echo.git",
    echoRef: readFileSync(join(dir, "echo-ref"), "utf8").trim(),
  };
}

export interface VmSpec {
  /** The rendered boot script (the template's `startup-script` metadata). */
  script: string;
  /** Secret Manager's secrets by id. */
  secrets: Record<string, string>;
  /** On the first boot, Secret Manager refuses this many reads of each secret (403), as while a grant propagates. @default 0 */
  refusedSecretReads?: number;
  /** Host directory shared by the VMs of one stack: the stand-in Cloud SQL (kong-package/standin.py). */
  databaseDir: string;
  /** What the load balancer checks (URL on the VM), if this VM is behind one with Kong. */
  loadBalancerCheck?: string;
  /** Health URLs of the services on this VM, by name. */
  services: Record<string, string>;
  /** URLs that must answer 2xx once the boot script is done. */
  ready: string[];
  /** Units to kill once ready, each with the URL that must answer again. */
  kill: { unit: string; url: string }[];
  /** URLs whose bodies the check keeps. */
  fetch: string[];
  /**
   * Requests to Kong's proxy from `source`, an address the check adds to loopback, with
   * X-Forwarded-For `xff`, and the client address Kong must log for each.
   */
  forwarded?: { source: string; port: number; path: string; xff: string; logged: string }[];
}

export interface CheckResult {
  startup_ok: boolean;
  answers: Record<string, number>;
  bodies: Record<string, string>;
  kills: Record<string, { restarts: number; answers_again: boolean; seconds: number }>;
}

export interface Boot {
  /** Wall-clock seconds from starting the container to its power-off. */
  seconds: number;
  /** The guest agent's and the boot script's journal of this boot. */
  startupLog: string;
  /** Kong's nginx log lines in the journal (syslog identifiers kong, kong_access). */
  kongLog: string;
  /** Seconds since boot at which each probed URL first answered 2xx (lb = the load balancer's check). */
  probe: Record<string, number>;
  /** Absent when the VM powered itself off before the check (the migrator), or hung past the deadline. */
  check?: CheckResult;
  /** The boot script was still running at the deadline, when the harness powered the VM off. */
  hung: boolean;
}

/** No boot script here takes longer; one that does is stopped, and its boot fails. */
const deadlineSec = 240;

/** The stand-ins' addresses (guest/standin-google.py). */
const hosts = ["127.0.0.2 metadata.google.internal", "127.0.0.3 secretmanager.googleapis.com", "127.0.0.4 kong-packages.test", "127.0.0.5 git.test"];

/** A VM: its root file system, a copy of the base one with the stand-ins installed. */
export class Vm extends RootDirectory {
  private boots = 0;

  constructor(readonly dir: string, base: string, standins: Standins, readonly spec: VmSpec) {
    super(join(dir, "rootfs"));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    run("cp", ["-a", "--reflink=auto", base, this.root]);
    const at = (path: string) => join(this.root, path);
    const write = (path: string, content: string, mode = 0o644) => {
      mkdirSync(join(at(path), ".."), { recursive: true });
      writeFileSync(at(path), content);
      chmodSync(at(path), mode);
    };
    write("etc/standin-google/attributes/startup-script", spec.script);
    for (const [id, value] of Object.entries(spec.secrets)) write(`etc/standin-google/secrets/${id}`, value, 0o600);
    if (spec.refusedSecretReads) write("etc/standin-google/refuse-first", String(spec.refusedSecretReads));
    for (const file of ["tls.crt", "tls.key"]) cpSync(join(standins.dir, "tls", file), at(`etc/standin-google/${file}`));
    cpSync(join(standins.dir, "tls", "ca.crt"), at("usr/local/share/ca-certificates/geo-api-layer-harness.crt"));
    run("chroot", [this.root, "update-ca-certificates"]);
    write("etc/hosts", `127.0.0.1 localhost\n::1 localhost\n${hosts.join("\n")}\n`);
    cpSync(join(standins.dir, "kong-packages"), at("srv/kong-packages"), { recursive: true });
    cpSync(join(standins.dir, "git"), at("srv/git"), { recursive: true });
    for (const file of ["standin-google.py", "harness.py"]) cpSync(join(here, "guest", file), at(`usr/local/lib/harness/${file}`));
    cpSync(join(here, "guest", "google_metadata_script_runner"), at("usr/bin/google_metadata_script_runner"));
    for (const unit of readdirSync(join(here, "units"))) {
      cpSync(join(here, "units", unit), at(`etc/systemd/system/${unit}`));
      symlinkSync(`/etc/systemd/system/${unit}`, at(`etc/systemd/system/multi-user.target.wants/${unit}`));
    }
    const harness = { lb: spec.loadBalancerCheck ?? null, services: spec.services, ready: spec.ready, fetch: spec.fetch, forwarded: (spec.forwarded ?? []).map(({ logged: _logged, ...request }) => request), deadline_sec: deadlineSec };
    write("etc/harness/harness.json", JSON.stringify(harness, null, 1));
    mkdirSync(at("var/lib/harness"), { recursive: true });
    mkdirSync(at("var/log/journal"), { recursive: true });
    mkdirSync(spec.databaseDir, { recursive: true });
  }

  /** Boots the container until it powers off (or `timeoutSec` passes) and reads what it left. */
  boot(options: { kill?: boolean; timeoutSec?: number } = {}): Boot {
    const harnessFile = join(this.root, "etc/harness/harness.json");
    const harness = JSON.parse(readFileSync(harnessFile, "utf8"));
    writeFileSync(harnessFile, JSON.stringify({ ...harness, kill: options.kill ? this.spec.kill : [] }, null, 1));
    const before = new Set(readdirSync(join(this.root, "var/lib/harness")));
    const started = Date.now();
    const console = join(this.dir, `console-${++this.boots}.log`);
    const result = spawnSync(
      "sh",
      ["-c", `exec systemd-nspawn --register=no --keep-unit --private-network --quiet -D "$1" --bind="$2":/var/lib/kong-standin-db -b </dev/null >"$3" 2>&1`, "nspawn", this.root, this.spec.databaseDir, console],
      { timeout: (options.timeoutSec ?? 600) * 1000 },
    );
    const seconds = (Date.now() - started) / 1000;
    // Refused reads are a first boot's: by a reboot, the grant has propagated.
    rmSync(join(this.root, "etc/standin-google/refuse-first"), { force: true });
    if (result.error || result.status !== 0) throw new Error(`the container did not power off (${result.error?.message ?? `exit ${result.status}`}); console in ${console}`);
    const fresh = (kind: string) => readdirSync(join(this.root, "var/lib/harness")).find((f) => f.startsWith(`${kind}-`) && !before.has(f));
    const json = (file?: string) => (file ? JSON.parse(readFileSync(join(this.root, "var/lib/harness", file), "utf8")) : undefined);
    const journal = (...args: string[]) => run("journalctl", ["-D", join(this.root, "var/log/journal"), "-b", "-0", "-o", "cat", "--no-pager", ...args]);
    return {
      seconds,
      startupLog: journal("-u", "google-startup-scripts.service"),
      kongLog: journal("-t", "kong", "-t", "kong_access"),
      probe: json(fresh("probe")) ?? {},
      check: json(fresh("check")),
      hung: fresh("deadline") !== undefined,
    };
  }

  /** Secret Manager calls of every boot so far (guest/standin-google.py). */
  secretAccesses(): { path: string; token_ok: boolean; token_on_command_line: boolean }[] {
    const log = join(this.root, "var/lib/harness/secret-access.log");
    return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
  }
}
