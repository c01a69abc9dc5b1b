/**
 * Kong's "Cloud SQL" in the VM harness: Debian's real PostgreSQL 15 servers in network namespaces
 * of their own (test/vm/network.ts), at the private addresses the program rendered into kong.conf,
 * serving TLS only (as `sslMode: ENCRYPTED_ONLY`) with a certificate signed by the CA the mock
 * Cloud SQL reports as the instance's (plan/mock-cloud.ts, whose key is mock-cloud-sql-ca.key), a
 * `kong` user with the password from Secret Manager and a `kong` database it owns. A replica is a
 * streaming standby of the primary (pg_basebackup, `primary_conninfo`), optionally applying changes
 * late (`recovery_min_apply_delay`), as an asynchronous cross-region replica lags.
 * What it hides: Cloud SQL's HA failover, its own CA per instance, its maintenance and flags.
 */
import { spawnSync } from "child_process";
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import type { TestNetwork } from "./network";

const bin = "/usr/lib/postgresql/15/bin";
const replicationPassword = "harness-replication";

function asPostgres(command: string[], env: Record<string, string> = {}): string[] {
  return ["env", "HOME=/var/lib/postgresql", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", ...command];
}

function run(command: string, args: string[], input?: string): string {
  const result = spawnSync(command, args, { encoding: "utf8", input });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** The CA the mock Cloud SQL reports for every instance, with its key. */
export const mockCloudSqlSigner = { cert: join(__dirname, "..", "..", "plan", "mock-cloud-sql-ca.pem"), key: join(__dirname, "mock-cloud-sql-ca.key") };

/**
 * A server certificate in `dir` (server.crt, server.key), signed by `ca`, or by a CA of its own
 * (made in `dir`): an impostor, whose certificate no VM of the stack trusts. Like Cloud SQL's, it
 * names no address, so only the chain can be verified.
 */
export function serverCertificate(dir: string, ca?: { cert: string; key: string }): void {
  mkdirSync(dir, { recursive: true });
  const signer = ca ?? { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  if (!ca) run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=another Cloud SQL Server CA", "-keyout", signer.key, "-out", signer.cert]);
  run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=harness Cloud SQL instance", "-keyout", join(dir, "server.key"), "-out", join(dir, "server.csr")]);
  run("openssl", ["x509", "-req", "-in", join(dir, "server.csr"), "-CA", signer.cert, "-CAkey", signer.key, "-CAcreateserial", "-CAserial", join(dir, "ca.srl"), "-days", "2", "-out", join(dir, "server.crt")]);
}

export interface PostgresOptions {
  /** The instance's private address (pg_host or pg_ro_host). */
  address: string;
  /** Folder of the server certificate (serverCertificate). */
  tls: string;
  /** For a replica: the primary it streams from. */
  primary?: PostgresServer;
  /** A replica applies each change this many seconds after the primary made it. */
  applyDelaySec?: number;
}

export class PostgresServer {
  readonly ns: string;
  private readonly data: string;
  private readonly socketDir: string;

  constructor(private readonly network: TestNetwork, readonly name: string, private readonly dir: string, readonly options: PostgresOptions) {
    this.ns = network.host(name, [options.address]);
    this.data = join(dir, "data");
    this.socketDir = join(dir, "socket");
    mkdirSync(this.socketDir, { recursive: true });
    mkdirSync(join(dir, "tls"));
    this.installCertificate(options.tls);
    chmodSync(dir, 0o700);
    if (options.primary) this.replicate(options.primary);
    else this.initialize();
    this.start();
  }

  private initialize(): void {
    run("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", `${bin}/initdb`, "-D", this.data, "--auth-local=peer", "--auth-host=scram-sha-256", "-U", "postgres", "--no-instructions"]);
    // TLS only, as Cloud SQL's ENCRYPTED_ONLY: plain TCP connections are refused by pg_hba.
    writeFileSync(join(this.data, "pg_hba.conf"), "local all postgres peer\nhostssl kong kong 0.0.0.0/0 scram-sha-256\nhostssl replication replicator 0.0.0.0/0 scram-sha-256\n");
    this.configure();
  }

  private replicate(primary: PostgresServer): void {
    this.network.exec(this.ns, asPostgres([`${bin}/pg_basebackup`, "-h", primary.options.address, "-U", "replicator", "-D", this.data, "-R", "-X", "stream"], { PGPASSWORD: replicationPassword, PGSSLMODE: "require" }), { timeoutSec: 120 });
    this.configure();
  }

  private configure(): void {
    const settings = [
      `listen_addresses = '${this.options.address}'`,
      `unix_socket_directories = '${this.socketDir}'`,
      "ssl = on",
      `ssl_cert_file = '${join(this.dir, "tls", "server.crt")}'`,
      `ssl_key_file = '${join(this.dir, "tls", "server.key")}'`,
      "max_connections = 200",
      ...(this.options.applyDelaySec ? [`recovery_min_apply_delay = '${this.options.applyDelaySec}s'`] : []),
    ];
    writeFileSync(join(this.data, "harness.conf"), `${settings.join("\n")}\n`);
    run("sh", ["-c", `echo "include 'harness.conf'" >> '${join(this.data, "postgresql.conf")}' && chown -R postgres:postgres '${this.dir}'`]);
  }

  private installCertificate(tls: string): void {
    for (const file of ["server.crt", "server.key"]) copyFileSync(join(tls, file), join(this.dir, "tls", file));
    chmodSync(join(this.dir, "tls", "server.key"), 0o600);
    run("chown", ["-R", "postgres:postgres", this.dir]);
  }

  /** Serves the certificate in `tls` (serverCertificate) from the next connection on (a reload, as PostgreSQL rereads its TLS files). */
  serveCertificate(tls: string): void {
    this.installCertificate(tls);
    run("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", `${bin}/pg_ctl`, "reload", "-D", this.data]);
  }

  start(): void {
    this.network.exec(this.ns, asPostgres([`${bin}/pg_ctl`, "start", "-w", "-t", "60", "-D", this.data, "-l", join(this.dir, "postgres.log")]), { timeoutSec: 90 });
  }

  stop(): void {
    spawnSync("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", `${bin}/pg_ctl`, "stop", "-D", this.data, "-m", "immediate"], { stdio: "ignore" });
  }

  /**
   * Ends a replica's recovery: from now on it takes writes and follows no primary, as Cloud SQL's
   * promoteReplica leaves a promoted replica (gcp-facts.md).
   */
  promote(): void {
    run("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", `${bin}/pg_ctl`, "promote", "-w", "-t", "60", "-D", this.data]);
  }

  /** SQL as the superuser over the server's Unix socket (no network: works while the host is dark). */
  psql(sql: string, variables: Record<string, string> = {}, database = "postgres"): string {
    const args = ["--reuid=postgres", "--regid=postgres", "--init-groups", `${bin}/psql`, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", this.socketDir, "-d", database, ...Object.entries(variables).flatMap(([k, v]) => ["-v", `${k}=${v}`]), "-f", "-"];
    return run("setpriv", args, sql).trim();
  }

  /** The primary's `kong` user and database, and the user replicas stream with. */
  createKongDatabase(password: string): void {
    this.psql(
      `CREATE ROLE kong LOGIN PASSWORD :'password';
CREATE DATABASE kong OWNER kong;
CREATE ROLE replicator REPLICATION LOGIN PASSWORD :'replication';`,
      { password, replication: replicationPassword },
    );
  }
}
