/**
 * The sidecar's own PostgreSQL, for real: the boot script runs in the sandbox against a private
 * cluster this test starts from Debian's packages (Unix socket for the script, loopback TCP with
 * SCRAM passwords for checking what the kong role can do).
 */
import { execFileSync, spawnSync } from "child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderKongConf } from "../startup/kong-conf";
import { adminRequests, kongEntities, renderAdminRequests } from "../startup/kong-entities";
import { renderStartupScript } from "../startup/startup-script";
import { echoService, expectStatus, Sandbox, SandboxRun } from "./support/sandbox";

const pgBin = readdirSync("/usr/lib/postgresql")
  .map((version) => `/usr/lib/postgresql/${version}/bin`)
  .find((dir) => existsSync(join(dir, "initdb")))!;
const port = 20000 + Math.floor(Math.random() * 20000);
const cluster = mkdtempSync(join(tmpdir(), "kong-pg-"));
const asPostgres = (command: string, args: string[]) =>
  process.getuid?.() === 0 ? execFileSync("runuser", ["-u", "postgres", "--", command, ...args]) : execFileSync(command, args);

beforeAll(() => {
  if (process.getuid?.() === 0) {
    const [uid, gid] = ["-u", "-g"].map((flag) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" })));
    chownSync(cluster, uid, gid);
  }
  asPostgres(join(pgBin, "initdb"), ["-D", join(cluster, "data"), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]);
  asPostgres(join(pgBin, "pg_ctl"), [
    "-D", join(cluster, "data"), "-l", join(cluster, "log"), "-w",
    "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${cluster}`,
    "start",
  ]);
});

afterAll(() => {
  asPostgres(join(pgBin, "pg_ctl"), ["-D", join(cluster, "data"), "-m", "fast", "-w", "stop"]);
});

/** psql over loopback TCP, where passwords are checked. */
function psqlAs(user: string, password: string, sql: string) {
  return spawnSync("psql", ["-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql], {
    encoding: "utf8",
    env: { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: "kong" },
  });
}

function superuser(sql: string): string {
  return execFileSync("psql", ["-X", "-tA", "-d", "postgres", "-c", sql], {
    encoding: "utf8",
    env: { ...process.env, PGHOST: cluster, PGPORT: String(port), PGUSER: "postgres" },
  }).trim();
}

const services = [echoService];
const script = renderStartupScript({
  role: "gateway",
  region: "us-east4",
  debianCodename: "bookworm",
  kong: {
    mode: { kind: "local-db", adminRequests: renderAdminRequests(adminRequests(kongEntities(services, { internalSources: [] }))) },
    conf: renderKongConf({ proxyPort: 8000, statusPort: 8100, adminPort: 8001, memCacheSize: "128m", database: { host: "127.0.0.1", ssl: false } }),
    version: "3.9.1",
    statusPort: 8100,
    adminPort: 8001,
  },
  services,
  kongUrl: "http://127.0.0.1:8000",
  project: "proj",
  bootBudgetSec: 60,
});


describe("a sidecar VM's local PostgreSQL", () => {
  let sandbox: Sandbox;
  let first: SandboxRun;
  let second: SandboxRun;
  const password = () => /^KONG_PG_PASSWORD="([A-Za-z0-9]{32})"$/m.exec(sandbox.file("etc/kong/kong.env"))![1];

  beforeAll(() => {
    sandbox = new Sandbox({ PGHOST: cluster, PGPORT: String(port), PGUSER: "postgres" });
    first = sandbox.run(script);
  });

  it("gets a kong role and a kong database owned by it on first boot, then migrations and entities", () => {
    expectStatus(first, 0);
    expect(superuser("SELECT count(*) FROM pg_roles WHERE rolname = 'kong'")).toBe("1");
    expect(superuser("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'kong'")).toBe("kong");
    const order = ["systemctl enable --now postgresql.service", "runuser -u postgres -- psql", "kong migrations list", "kong migrations bootstrap", "systemctl restart kong.service", "curl -fsS -o /dev/null -X PUT"];
    const positions = order.map((p) => first.calls.findIndex((c) => c.startsWith(p)));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it("keeps the generated password root-only, and it is the role's password", () => {
    expect(sandbox.mode("etc/kong/kong.env")).toBe("600");
    const login = psqlAs("kong", password(), "SELECT current_user");
    expect({ status: login.status, out: login.stdout.trim() }).toEqual({ status: 0, out: "kong" });
    expect(psqlAs("kong", "wrong-password", "SELECT 1").status).not.toBe(0);
  });

  it("lets kong create tables in its database's public schema, which PostgreSQL 15+ allows only the owner", () => {
    const create = psqlAs("kong", password(), "CREATE TABLE kong_probe (id int); DROP TABLE kong_probe;");
    expect({ status: create.status, err: create.stderr }).toEqual({ status: 0, err: "" });
  });

  it("on reboot reuses the role, the database and the password, and migrates nothing", () => {
    const before = password();
    second = sandbox.run(script);
    expectStatus(second, 0);
    expect(password()).toBe(before);
    expect(second.output).not.toContain("wrote /etc/kong/kong.env");
    expect(superuser("SELECT count(*) FROM pg_roles WHERE rolname = 'kong'")).toBe("1");
    expect(superuser("SELECT count(*) FROM pg_database WHERE datname = 'kong'")).toBe("1");
    expect(second.calls.some((c) => c.startsWith("kong migrations bootstrap"))).toBe(false);
    expect(psqlAs("kong", before, "SELECT current_user").status).toBe(0);
  });
});
