/**
 * The VM harness: boots a rendered boot script on a real Debian 12 with systemd as PID 1
 * (systemd-nspawn, in a network namespace of test/vm/network.ts), the way Google's guest agent runs
 * it: on every boot. Real: systemd, journald, apt and Debian's packages (from a local repository),
 * useradd, git, jq, curl, PostgreSQL (the sidecar's, and Kong's database: test/vm/cloud-sql.ts),
 * nginx, and Kong's own configuration loader and declarative parser (../shared/kong-check, bound in
 * at /opt/kong-check). Stand-ins, for what cannot be had here: Kong's package (kong-package/),
 * Google's metadata server, Secret Manager and guest agent (guest/, beside the harness's own probe
 * and check), the test service's repository.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { createHash } from "crypto";
import { basename, join } from "path";
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

/** The Kong version after 3.9.1 that the harness's apt repository also holds, whose stand-in knows one migration more. */
export const laterKongVersion = "3.9.2";

export function prepareStandins(dir: string): Standins {
  run("bash", [join(here, "prepare-standins.sh"), dir, laterKongVersion]);
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
  /** The host folder holding Cloud Storage's objects (guest/standin-google.py), shared by a test file's VMs. */
  storage: string;
  /** The VM's network namespace on the harness's network (TestNetwork.host). */
  netns: string;
  /** A working copy of Kong's own checks (test/support/kong-tools.ts), bound in at /opt/kong-check. */
  kongTools?: string;
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
  /** What Kong's unit printed (`kong prepare`, nginx's start). */
  kongUnitLog: string;
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
const hosts = ["127.0.0.2 metadata.google.internal", "127.0.0.3 secretmanager.googleapis.com", "127.0.0.4 kong-packages.test", "127.0.0.5 git.test", "127.0.0.6 storage.googleapis.com"];

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
    // Its name, and a numeric id as Compute Engine gives each instance.
    write("etc/standin-google/instance-name", basename(dir));
    write("etc/standin-google/instance-id", String(parseInt(createHash("sha256").update(dir).digest("hex").slice(0, 12), 16)));
    for (const [id, value] of Object.entries(spec.secrets)) write(`etc/standin-google/secrets/${id}`, value, 0o600);
    if (spec.refusedSecretReads) write("etc/standin-google/refuse-first", String(spec.refusedSecretReads));
    for (const file of ["tls.crt", "tls.key"]) cpSync(join(standins.dir, "tls", file), at(`etc/standin-google/${file}`));
    cpSync(join(standins.dir, "tls", "ca.crt"), at("usr/local/share/ca-certificates/geo-api-layer-harness.crt"));
    run("chroot", [this.root, "update-ca-certificates"]);
    write("etc/hosts", `127.0.0.1 localhost\n::1 localhost\n${hosts.join("\n")}\n`);
    // A VM's services get systemd's documented default open-file limit (systemd-system.conf(5):
    // 1024 soft); inside the container systemd would take the harness process's raised one instead.
    write("etc/systemd/system.conf.d/harness-limits.conf", "[Manager]\nDefaultLimitNOFILE=1024:524288\n");
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
    if (spec.kongTools) mkdirSync(at("opt/kong-check"), { recursive: true });
    // The sources the check sends forwarded requests from, on the VM's loopback (the container may not add addresses itself).
    for (const source of new Set((spec.forwarded ?? []).map((f) => f.source))) run("ip", ["netns", "exec", spec.netns, "ip", "address", "replace", `${source}/32`, "dev", "lo"]);
  }

  /** Boots the container until it powers off (or `timeoutSec` passes) and reads what it left. */
  boot(options: { kill?: boolean; timeoutSec?: number } = {}): Boot {
    const start = this.prepareBoot({ kill: options.kill ?? false, stay: false });
    const result = spawnSync("sh", ["-c", ...start.command], { timeout: (options.timeoutSec ?? 600) * 1000 });
    if (result.error || result.status !== 0) throw new Error(`the container did not power off (${result.error?.message ?? `exit ${result.status}`}); console in ${start.console}`);
    return start.finish();
  }

  /** Boots the container and leaves it running: a VM of a fleet, for a game day. */
  start(): RunningVm {
    const start = this.prepareBoot({ kill: false, stay: true });
    return new RunningVm(this, spawn("sh", ["-c", ...start.command], { stdio: "ignore" }), start);
  }

  private prepareBoot(options: { kill: boolean; stay: boolean }) {
    const harnessFile = join(this.root, "etc/harness/harness.json");
    const harness = JSON.parse(readFileSync(harnessFile, "utf8"));
    writeFileSync(harnessFile, JSON.stringify({ ...harness, kill: options.kill ? this.spec.kill : [], stay: options.stay }, null, 1));
    rmSync(join(this.root, "var/lib/harness/poweroff"), { force: true });
    const before = new Set(readdirSync(join(this.root, "var/lib/harness")));
    const started = Date.now();
    const console = join(this.dir, `console-${++this.boots}.log`);
    const binds = [...(this.spec.kongTools ? [`--bind-ro=${this.spec.kongTools}:/opt/kong-check`] : []), `--bind=${this.spec.storage}:/srv/storage`].join(" ");
    const command = [
      `exec systemd-nspawn --register=no --keep-unit --network-namespace-path=/run/netns/"$2" ${binds} --quiet -D "$1" -b </dev/null >"$3" 2>&1`,
      "nspawn",
      this.root,
      this.spec.netns,
      console,
    ];
    const fresh = (kind: string) => readdirSync(join(this.root, "var/lib/harness")).find((f) => f.startsWith(`${kind}-`) && !before.has(f));
    const json = (file?: string) => (file ? JSON.parse(readFileSync(join(this.root, "var/lib/harness", file), "utf8")) : undefined);
    const finish = (): Boot => {
      // Refused reads are a first boot's: by a reboot, the grant has propagated.
      rmSync(join(this.root, "etc/standin-google/refuse-first"), { force: true });
      return { seconds: (Date.now() - started) / 1000, ...this.journals(), probe: json(fresh("probe")) ?? {}, check: json(fresh("check")), hung: fresh("deadline") !== undefined };
    };
    return { command, console, started, checked: () => json(fresh("check")) as CheckResult | undefined, finish };
  }

  /** The boot script's and Kong's journal of the newest boot. */
  journals(): Pick<Boot, "startupLog" | "kongLog" | "kongUnitLog"> {
    const journal = (...args: string[]) => run("journalctl", ["-D", join(this.root, "var/log/journal"), "-b", "-0", "-o", "cat", "--no-pager", ...args]);
    return { startupLog: journal("-u", "google-startup-scripts.service"), kongLog: journal("-t", "kong", "-t", "kong_access"), kongUnitLog: journal("-u", "kong.service") };
  }

  /** The boot script its next boot gets (the template's metadata changed). */
  setScript(script: string): void {
    writeFileSync(join(this.root, "etc/standin-google/attributes/startup-script"), script);
  }

  /**
   * The probe's clock (seconds since the host booted) at a boot's first journal line matching
   * `pattern`; `boot` counts back from the newest (0), as journalctl's `-b -N`.
   */
  journalTime(pattern: RegExp, boot = 0): number | undefined {
    const lines = run("journalctl", ["-D", join(this.root, "var/log/journal"), "-b", `-${boot}`, "-o", "short-monotonic", "--no-pager"]).split("\n");
    const line = lines.find((l) => pattern.test(l));
    return line ? Number(/^\[\s*([\d.]+)\]/.exec(line)![1]) : undefined;
  }

  /** Asks a running VM to power off (guest/harness.py watches for the file). */
  requestPowerOff(): void {
    writeFileSync(join(this.root, "var/lib/harness/poweroff"), "");
  }

  /** Secret Manager calls of every boot so far (guest/standin-google.py). */
  secretAccesses(): { path: string; token_ok: boolean; token_on_command_line: boolean }[] {
    const log = join(this.root, "var/lib/harness/secret-access.log");
    return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
  }
}

/** A VM left running by Vm.start. */
export class RunningVm {
  private readonly exited: Promise<void>;
  /** Seconds from starting the container until its boot script was done, once it is. */
  readySeconds?: number;
  /** When the container started (epoch milliseconds). */
  readonly startedAt: number;

  constructor(
    readonly vm: Vm,
    private readonly process: ChildProcess,
    private readonly boot: { started: number; console: string; checked: () => CheckResult | undefined; finish: () => Boot },
  ) {
    this.exited = new Promise((resolve) => process.on("exit", () => resolve()));
    this.startedAt = boot.started;
  }

  /** Waits until the boot script is done and the harness's check ran (whether the boot succeeded or not). */
  async ready(timeoutSec = 300): Promise<CheckResult> {
    const deadline = Date.now() + timeoutSec * 1000;
    for (;;) {
      const check = this.boot.checked();
      if (check) {
        this.readySeconds ??= (Date.now() - this.boot.started) / 1000;
        return check;
      }
      if (this.process.exitCode !== null || Date.now() > deadline) throw new Error(`the VM was not ready within ${timeoutSec} s; console in ${this.boot.console}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Powers the VM off and reads what its boot left. */
  async stop(): Promise<Boot> {
    this.vm.requestPowerOff();
    const timeout = new Promise<void>((r) => setTimeout(r, 60_000));
    await Promise.race([this.exited, timeout]);
    if (this.process.exitCode === null) this.process.kill("SIGKILL");
    return this.boot.finish();
  }
}
