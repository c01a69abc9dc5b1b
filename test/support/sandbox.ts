/**
 * Runs a rendered boot script in a sandbox: a temporary root (GEO_API_LAYER_ROOT), stand-ins on
 * PATH for apt-get, systemctl, curl (metadata server, Secret Manager, Kong's Admin API), the kong
 * CLI and the rest (test/sandbox/bin), and a call log to assert what the script did, in order.
 */
import { spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join } from "path";
import { ServiceSchema } from "../../config/schema";
import { RootDirectory } from "./root-directory";

const stubs = join(__dirname, "..", "sandbox", "bin");

export interface SandboxRun {
  status: number | null;
  output: string;
  /** The stand-ins' calls of this run, in order, e.g. `apt-get -o … install kong=3.9.1`. */
  calls: string[];
}

export class Sandbox extends RootDirectory {
  readonly dir: string;
  private callCount = 0;

  constructor(private readonly env: Record<string, string> = {}) {
    const dir = mkdtempSync(join(tmpdir(), "boot-sandbox-"));
    super(join(dir, "root"));
    this.dir = dir;
    mkdirSync(this.root);
    mkdirSync(join(this.dir, "state", "secrets"), { recursive: true });
  }

  secret(id: string, value: string): this {
    writeFileSync(join(this.dir, "state", "secrets", id), value);
    return this;
  }

  /** An object generation Cloud Storage holds (the builder's artifact). */
  storedObject(bucket: string, object: string, generation: string, content: Buffer): this {
    const file = join(this.dir, "state", "storage", bucket, `${object}@${generation}`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    return this;
  }

  /** Sets the stand-in database's migration state (kong stub): "0", "3", "pending:N". */
  migrations(state: string): this {
    writeFileSync(join(this.dir, "state", "migrations"), state);
    return this;
  }

  /** An entity Kong's Admin API already holds, e.g. one a previous config had. */
  adminEntity(kind: string, key: string, body: Record<string, unknown>): this {
    mkdirSync(join(this.dir, "state", "admin", kind), { recursive: true });
    writeFileSync(join(this.dir, "state", "admin", kind, key), JSON.stringify(body));
    return this;
  }

  adminEntities(kind: string): string[] {
    const dir = join(this.dir, "state", "admin", kind);
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  }

  run(script: string, env: Record<string, string> = {}): SandboxRun {
    const file = join(this.dir, "boot.sh");
    writeFileSync(file, script);
    const result = spawnSync("bash", [file], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        PATH: `${stubs}:${process.env.PATH}`,
        SANDBOX: this.dir,
        GEO_API_LAYER_ROOT: this.root,
        GEO_API_LAYER_RETRY_BACKOFF_SEC: "0",
        GEO_API_LAYER_POLL_SEC: "0",
        HOME: this.dir,
        ...this.env,
        ...env,
      },
    });
    const log = join(this.dir, "calls.log");
    const all = existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
    const calls = all.slice(this.callCount);
    this.callCount = all.length;
    return { status: result.status, output: `${result.stdout}${result.stderr}`, calls };
  }
}

/** Index of the first call that starts with `prefix`, or -1. */
export function callIndex(calls: string[], prefix: string): number {
  return calls.findIndex((c) => c.startsWith(prefix));
}

/** Fails with the run's output and calls, which is what anyone debugging the script needs. */
export function expectStatus(run: SandboxRun, status: number): void {
  if (run.status !== status) throw new Error(`exit status ${run.status}, expected ${status}\n${run.output}\ncalls:\n${run.calls.join("\n")}`);
}

/** A containerised test service for boot scripts. */
export const echoService = ServiceSchema.parse({
  name: "echo",
  port: 9002,
  healthPath: "/healthz",
  routes: [{ name: "echo", paths: ["/echo"] }],
  run: { kind: "container", image: "registry.example.com/echo@sha256:0123" },
});
