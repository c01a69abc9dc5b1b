"""Kong 3.9.1 stand-in for the VM harness: what a VM's boot, its health checks and an outage depend on.

Each behaviour follows the Kong 3.9.1 source file it names (../shared/kong-check/kong/ holds them):
- Configuration: kong.conf and KONG_* overrides, `{vault://env/..}` references (kong/vaults/env:
  upper-cased, `-` to `_`). Whether Kong accepts the configuration is Kong's own conf_loader, run
  through `kong check` when the harness binds Kong's code in at /opt/kong-check (`prepare` refuses
  what it refuses, with its message); a DB-less start is judged by Kong's own `kong config parse`.
- `kong prepare` (kong/cmd/utils/prefix_handler.lua): <prefix>/.kong_env (0640) with references, not
  values; the resolved secrets in <prefix>/.kong_process_secrets_http, which nginx's init reads and
  deletes (kong/conf_loader/init.lua); nginx.conf with kong.conf's listeners, log targets and the
  proxy server's injected `nginx_proxy_*` directives, opened by Debian's real nginx
  (kong/templates/nginx_kong.lua); the open-file limit warning of prepare_prefix, which every
  `kong migrations` command runs too.
- PostgreSQL (kong/db/strategies/postgres/connector.lua): a real server over TCP and TLS (`pg_ssl`;
  with `pg_ssl_verify` the server's chain is checked against lua_ssl_trusted_certificate, not its
  host, as pgmoon's handshake does),
  `pg_timeout` per connect, and a second connect when the password is a vault reference
  (`kong.vault.try`, kong/pdk/vault.lua). Reads go through `pg_ro_host` when set, with no fallback
  to the primary, except in the CLI (`not ngx.IS_CLI`) and the Admin API, which use the primary.
- `kong migrations list|bootstrap|up|finish`: kong/cmd/migrations.lua's exit codes and messages, over
  Kong 3.9.1's core migration names recorded as executed or pending in the database (a table of the
  stand-in's own; kong/db/migrations/state.lua: a version counts only the migrations it knows). A
  stand-in of a later version (its VERSION file) knows one migration more.
- Kong.init (kong/init.lua:661-745): the schema state through the primary (connect_migrations), then
  the router's entities through the read connection; DB-less: the declarative file.
- `/status` (kong/api/routes/health.lua): connects to the primary on every request, 200 either way.
  `/status/ready` (kong/status/ready.lua): the primary must connect; a router built once, even with
  zero routes, is ready; DB-less needs a non-empty configuration.
- Cluster events (kong/cluster_events/init.lua, strategies/postgres.lua): a write inserts an event
  with nbf = now + db_update_propagation; every db_update_frequency the node polls, through the read
  connection, events after the server time of its last poll that found any, minus
  db_update_propagation; once an event's nbf has passed, the router is stale. An event that reaches
  a lagging replica after that window is never seen.
- The router's rebuild (kong/runloop/handler.lua: rebuild_router_timer, update_router): every
  worker_state_update_frequency, a stale router is rebuilt from the read connection; a rebuild that
  fails leaves the old router serving and is tried again on the next tick.
- Hybrid mode (kong/clustering/*): a control plane listens on cluster_listen over TLS with the
  cluster certificate and accepts a data plane only if its client certificate's SHA-256 equals its
  own (tls.lua validate_shared_cert; the handshake itself trusts only that certificate, where Kong's
  nginx asks `optional_no_ca` and then compares); a data plane checks the control plane's
  certificate against cluster_cert with server name kong_clustering (conf_loader/parse.lua:775;
  X509_check_host falls back to the subject's CN), sends its version first, and the control plane
  refuses a different major or a higher minor (compat/init.lua check_kong_version_compatibility).
  The control plane pushes the whole configuration on connect and after every change it learns
  of: its own writes, and others' through the cluster events it polls (events.lua
  clustering:push_config). The data plane applies each push, persists it (<prefix>/dbless.lmdb),
  pings every 30 s, drops a connection silent for 45 s (data_plane.lua PING_INTERVAL, PING_WAIT)
  and reconnects after 5 to 10 s. At start it loads declarative_config when set, else its
  persisted configuration ("found persisted lmdb config, loading...", kong/init.lua), else none.
  What it does not follow: the websocket framing and compression of /v1/outlet (here one JSON
  object per line), incremental sync (3.10+), configuration compatibility rewrites.
- The router (kong/router/transform.lua get_priority: more matched fields first, then the longer
  path; prefix paths, strip_path, preserve_host) and two bundled plugins, request-termination and
  ip-restriction (the client address nginx's realip module set). test/kong-judges.test.ts holds this
  router against Kong's own on the example stacks' entities.
"""
import base64
import ipaddress
import json
import os
import re
import resource
import hashlib
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import http.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import UnixStreamServer

KONG_TOOLS = "/opt/kong-check"
NEEDS_BOOTSTRAP_MSG = (
    "Database needs bootstrapping or is older than Kong 1.0.\n\n"
    "To start a new installation from scratch, run 'kong migrations bootstrap'."
)


class KongError(Exception):
    pass


def log(*parts):
    print("kong-standin:", *parts, file=sys.stderr, flush=True)


# --- configuration -------------------------------------------------------------------------------

DEFAULTS = {"prefix": "/usr/local/kong", "nginx_user": "kong kong", "nginx_daemon": "on", "admin_listen": "127.0.0.1:8001",
            "proxy_listen": "0.0.0.0:8000", "status_listen": "127.0.0.1:8007", "admin_gui_listen": "0.0.0.0:8002, 0.0.0.0:8445 ssl",
            "proxy_access_log": "logs/access.log", "proxy_error_log": "logs/error.log", "admin_access_log": "logs/admin_access.log",
            "admin_error_log": "logs/error.log", "status_access_log": "off", "status_error_log": "logs/status_error.log",
            "admin_gui_access_log": "logs/admin_gui_access.log", "admin_gui_error_log": "logs/admin_gui_error.log",
            "database": "postgres", "pg_host": "127.0.0.1", "pg_port": "5432", "pg_user": "kong", "pg_database": "kong",
            "pg_ssl": "off", "pg_ssl_verify": "off", "pg_timeout": "5000", "db_update_frequency": "5", "db_update_propagation": "0",
            "worker_state_update_frequency": "5", "role": "traditional", "cluster_mtls": "shared",
            "cluster_listen": "0.0.0.0:8005", "lmdb_environment_path": "dbless.lmdb"}

VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")).read().strip()


def parse_conf(path):
    conf = dict(DEFAULTS)
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                key, value = line.split("=", 1)
                conf[key.strip()] = value.strip()
    for name, value in os.environ.items():
        if name.startswith("KONG_"):
            conf[name[5:].lower()] = value
    refs = {}
    for key, value in list(conf.items()):
        m = re.fullmatch(r"\{vault://env/([^}/]+)\}", value)
        if m:
            refs[key] = value
            resolved = os.environ.get(m.group(1).upper().replace("-", "_"))
            if resolved is None:
                raise KongError(f"failed to dereference '{value}': could not get value from external vault (no value found ({m.group(1)}))")
            conf[key] = resolved
    conf["$refs"] = refs
    return conf


def load_prefix_conf(prefix):
    """What nginx's init reads: <prefix>/.kong_env, references resolved from the process's own env."""
    return parse_conf(os.path.join(prefix, ".kong_env"))


def kong_tool(tool, args, env=None):
    """One of Kong's own checks, when the harness binds them in; (status, output) or None without them."""
    if not os.path.exists(os.path.join(KONG_TOOLS, tool)):
        return None
    env = {**{k: v for k, v in os.environ.items() if k.startswith("KONG_") or k == "PATH"}, **(env or {})}
    r = subprocess.run([os.path.join(KONG_TOOLS, tool), *args], capture_output=True, text=True, env=env)
    if r.returncode == 2:
        raise KongError(f"{tool} could not run: {r.stderr.strip()}")
    return r.returncode, (r.stdout + r.stderr).strip()


# --- PostgreSQL ----------------------------------------------------------------------------------

class Connector:
    """kong/db/strategies/postgres/connector.lua: a write configuration, and a read one from pg_ro_*
    outside the CLI (:1003). Every connect waits at most pg_timeout (:205) and, when the password is
    a vault reference, tries once more (connect → kong.vault.try, :238)."""

    def __init__(self, conf, cli):
        self.conf = conf
        self.read_host = conf.get("pg_ro_host") if not cli else None

    def connect(self, operation="write"):
        import psycopg2
        conf = self.conf
        read = operation == "read" and self.read_host
        key = (lambda k: conf.get(f"pg_ro_{k}", conf[f"pg_{k}"])) if read else (lambda k: conf[f"pg_{k}"])
        host = self.read_host if read else conf["pg_host"]
        password = conf.get("pg_ro_password", conf.get("pg_password", "")) if read else conf.get("pg_password", "")
        attempts = 2 if "pg_password" in conf["$refs"] else 1
        timeout = max(2, -(-int(key("timeout") if read and "pg_ro_timeout" in conf else conf["pg_timeout"]) // 1000))
        error = None
        for _ in range(attempts):
            try:
                # pgmoon's settimeout(pg_timeout) bounds every socket operation, not only the connect
                # (connector.lua:205): a query on a connection whose packets vanish fails as well.
                return psycopg2.connect(host=host, port=int(key("port")), user=key("user"), password=password, dbname=key("database"),
                                        **tls_settings(conf, key), connect_timeout=timeout,
                                        tcp_user_timeout=timeout * 1000, keepalives=1, keepalives_idle=timeout, keepalives_interval=1,
                                        keepalives_count=1, application_name="kong")
            except psycopg2.OperationalError as e:
                error = str(e).strip().splitlines()[0] if str(e).strip() else "timeout"
                if "timeout expired" in error:
                    error = "timeout"
        raise KongError(f"[PostgreSQL error] failed to retrieve PostgreSQL server_version_num: {error}")

    def run(self, sql, params=(), operation="write", fetch=True):
        connection = self.connect(operation)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if fetch and cursor.description else None
        except Exception as e:
            if isinstance(e, KongError):
                raise
            raise KongError(f"[PostgreSQL error] {str(e).strip()}")
        finally:
            connection.close()


SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
COMBINED_LOCK = threading.Lock()
COMBINED_WRITTEN = set()


def tls_settings(conf, key):
    """pg_ssl, and with pg_ssl_verify the server's chain checked against lua_ssl_trusted_certificate
    (combined into <prefix>/.ca_combined as prefix_handler.lua's gen_trusted_certs_combined_file does,
    `system` being the system bundle, kong/conf_loader/parse.lua). pgmoon hands nginx no server name
    (Kong/pgmoon pgmoon/init.lua: tlshandshake({ verify })), so the host is not checked: verify-ca."""
    if key("ssl") != "on":
        return {"sslmode": "disable"}
    if key("ssl_verify") != "on":
        return {"sslmode": "require"}
    combined = os.path.join(conf["prefix"], ".ca_combined")
    with COMBINED_LOCK:
        if combined not in COMBINED_WRITTEN:
            os.makedirs(conf["prefix"], exist_ok=True)
            with open(combined + ".new", "w") as out:
                for entry in (e.strip() for e in conf.get("lua_ssl_trusted_certificate", "").split(",") if e.strip()):
                    # Without a system bundle, Kong keeps `system` unresolved (conf_loader/parse.lua).
                    if entry == "system" and not os.path.exists(SYSTEM_CA_BUNDLE):
                        continue
                    with open(SYSTEM_CA_BUNDLE if entry == "system" else entry) as f:
                        out.write(f.read().rstrip("\n") + "\n")
            os.replace(combined + ".new", combined)
            COMBINED_WRITTEN.add(combined)
    return {"sslmode": "verify-ca", "sslrootcert": combined}


SCHEMA = """
CREATE TABLE schema_meta (key text PRIMARY KEY, state jsonb NOT NULL);
CREATE TABLE entities (key text PRIMARY KEY, body jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE cluster_events (id bigserial PRIMARY KEY, node_id text NOT NULL, at timestamptz NOT NULL DEFAULT now(),
                             nbf timestamptz, channel text NOT NULL, data text NOT NULL);
"""

# Kong 3.9.1's core migrations (kong/db/migrations/core/init.lua); every 3.9.x release has the same.
CORE_MIGRATIONS = ["000_base", "003_100_to_110", "004_110_to_120", "005_120_to_130", "006_130_to_140", "007_140_to_150",
                   "008_150_to_200", "009_200_to_210", "010_210_to_211", "011_212_to_213", "012_213_to_220", "013_220_to_230",
                   "014_230_to_270", "015_270_to_280", "016_280_to_300", "017_300_to_310", "018_310_to_320", "019_320_to_330",
                   "020_330_to_340", "021_340_to_350", "022_350_to_360", "023_360_to_370", "024_380_to_390"]
# The harness also packages a stand-in of a later version (its VERSION file) with one migration more,
# to play an upgrade whose migrations differ.
LATER_MIGRATION = "025_390_to_3100"


def own_migrations():
    return CORE_MIGRATIONS + ([LATER_MIGRATION] if VERSION != "3.9.1" else [])


def schema_state(db):
    """None when the database needs bootstrapping, else this version's {executed, pending, new}: each
    of its own migrations as schema_meta records it, or new; a recorded migration this version does
    not know (a later version's) counts for nothing (kong/db/migrations/state.lua)."""
    if db.run("SELECT to_regclass('schema_meta')")[0][0] is None:
        return None
    row = db.run("SELECT state FROM schema_meta WHERE key = 'core'")
    recorded = row[0][0] if row else {"executed": [], "pending": []}
    mine = own_migrations()
    return {"executed": [m for m in mine if m in recorded["executed"]], "pending": [m for m in mine if m in recorded["pending"]],
            "new": [m for m in mine if m not in recorded["executed"] and m not in recorded["pending"]], "recorded": recorded}


def record(db, executed, pending):
    db.run("INSERT INTO schema_meta VALUES ('core', %s) ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state",
           (json.dumps({"executed": executed, "pending": pending}),), fetch=False)


def migrations(command, conf):
    """kong/cmd/migrations.lua's commands, messages and exit codes, over schema_state."""
    db = Connector(conf, cli=True)
    state = schema_state(db)
    if command == "list":
        if state is None:
            print(NEEDS_BOOTSTRAP_MSG)
            return 3
        print(f"Executed migrations:\n  core: {', '.join(state['executed'])}")
        if state["pending"]:
            print(f"\nPending migrations:\n  core: {', '.join(state['pending'])}")
        if state["new"]:
            print(f"\nNew migrations available:\n  core: {', '.join(state['new'])}")
        if state["pending"] and state["new"]:
            print("\nRun 'kong migrations finish' when ready to complete pending migrations")
            return 4
        if state["pending"]:
            print("\nRun 'kong migrations finish' when ready")
            return 4
        if state["new"]:
            print("\nRun 'kong migrations up' to proceed")
            return 5
        return 0
    if command == "bootstrap":
        if state is not None:
            print("Database already bootstrapped")
            return 0
        db.run(SCHEMA, fetch=False)
        record(db, own_migrations(), [])
        print("Bootstrapping database...\nDatabase is up-to-date")
        return 0
    if state is None:
        raise KongError("Cannot run migrations: " + NEEDS_BOOTSTRAP_MSG)
    recorded = state["recorded"]
    if command == "up":
        if state["pending"]:
            raise KongError("Database has pending migrations; run 'kong migrations finish'")
        if state["new"]:
            # Each new migration's `up` runs; its teardown waits for `finish`.
            record(db, recorded["executed"], recorded["pending"] + state["new"])
            print(f"{len(state['new'])} migration processed\n\nDatabase has pending migrations; run 'kong migrations finish' when ready")
        else:
            print("Database is already up-to-date")
        return 0
    if command == "finish":
        if state["pending"]:
            record(db, recorded["executed"] + state["pending"], [m for m in recorded["pending"] if m not in state["pending"]])
            print(f"{len(state['pending'])} migration processed\nDatabase is up-to-date")
        else:
            print("No pending migrations to finish")
        return 0
    raise KongError(f"unknown command {command}")


# --- the router ----------------------------------------------------------------------------------

class Router:
    """Kong's routes as the router orders them (kong/router/transform.lua get_priority): each path of a
    route apart, more matched fields (methods, paths, hosts, headers) first, then the longer prefix."""

    def __init__(self, entities):
        self.services = {s["name"]: s for s in entities.get("services", [])}
        self.routes = entities.get("routes", [])
        self.plugins = entities.get("plugins", [])
        candidates = []
        for route in self.routes:
            weight = sum(1 for field in ("methods", "paths", "hosts", "headers") if route.get(field))
            for path in route.get("paths") or []:
                candidates.append(((weight, len(path)), path, route))
        self.candidates = [(path, route) for _, path, route in sorted(candidates, key=lambda c: c[0], reverse=True)]

    def __len__(self):
        return len(self.routes)

    def match(self, method, path):
        for prefix, route in self.candidates:
            if route.get("methods") and method not in route["methods"]:
                continue
            if path.startswith(prefix):
                return prefix, route
        return None

    def route_plugins(self, route):
        return [p for p in self.plugins if (p.get("route") or {}).get("name") == route["name"] and p.get("enabled", True)]

    def upstream(self, route, prefix, path, query):
        """The service's URL and the path Kong forwards (strip_path: the matched prefix goes;
        kong/router/utils.lua get_upstream_uri_v0)."""
        service = self.services[route["service"]["name"]]
        url = re.match(r"^(\w+)://([^/:]+)(?::(\d+))?(/.*)?$", service["url"])
        base = url.group(4) or "/"
        rest = path[len(prefix):] if route.get("strip_path") else path
        if base.endswith("/") and rest.startswith("/"):
            joined = base + rest[1:]
        elif rest and not base.endswith("/") and not rest.startswith("/"):
            joined = f"{base}/{rest}"
        else:
            joined = base + rest
        return service, url.group(2), int(url.group(3) or 80), joined + (f"?{query}" if query else "")


UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalize(path):
    """kong/tools/uri.lua normalize(uri, merge_slashes = true), which the router matches and forwards
    (kong/router/utils.lua strip_uri_args): unreserved characters decoded, slashes merged, dot
    segments removed (RFC 3986 5.2.4)."""
    path = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m[1], 16)) if chr(int(m[1], 16)) in UNRESERVED else f"%{m[1].upper()}", path)
    path = re.sub(r"/{2,}", "/", path)
    output = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    trailing = path.endswith(("/.", "/..")) and output and output[-1] != ""
    return "/" + "/".join(output) + ("/" if trailing else "")


def entities_from_declarative(config):
    """The declarative format 3.0's nesting, flattened as Kong stores it: services, routes naming
    their service, plugins naming their route."""
    out = {"services": [], "routes": [], "plugins": []}

    def add_routes(routes, service):
        for route in routes or []:
            plugins = route.get("plugins") or []
            out["routes"].append({**{k: v for k, v in route.items() if k != "plugins"}, **({"service": {"name": service}} if service else {})})
            out["plugins"].extend({**p, "route": {"name": route["name"]}} for p in plugins)

    for service in config.get("services") or []:
        out["services"].append({k: v for k, v in service.items() if k != "routes"})
        add_routes(service.get("routes"), service["name"])
    add_routes(config.get("routes"), None)
    return out


def entities_from_rows(rows):
    out = {"services": [], "routes": [], "plugins": []}
    for key, body in sorted(rows):
        out.setdefault(key.split("/")[0], []).append(body)
    return out


# --- the node ------------------------------------------------------------------------------------

class Node:
    """One Kong node: its configuration, its router, and (with a database) its cluster events."""

    def __init__(self, prefix):
        self.conf = load_prefix_conf(prefix)
        self.conf["prefix"] = prefix
        self.dbless = self.conf["database"] == "off"
        self.router = None
        # A UUID, as kong.node.get_id (kong/pdk/node.lua): host names and PIDs repeat across VMs.
        self.node_id = str(uuid.uuid4())
        self.lock = threading.Lock()
        self.role = self.conf["role"]
        self.lmdb = os.path.join(prefix, self.conf["lmdb_environment_path"], "data.mdb")
        self.push_version = 0
        if self.dbless:
            entities = entities_from_declarative(declarative(self.conf))
            # kong/init.lua: without declarative_config, a configuration persisted in LMDB.
            if not self.conf.get("declarative_config") and os.path.exists(self.lmdb):
                log("found persisted lmdb config, loading...")
                with open(self.lmdb) as f:
                    entities = json.load(f)["config"]
            self.router = Router(entities)
            if self.role == "data_plane":
                threading.Thread(target=DataPlane(self).run, daemon=True).start()
            return
        self.db = Connector(self.conf, cli=False)
        # Kong.init: the schema state through the primary (kong/init.lua:667, connect_migrations).
        state = schema_state(self.db)
        if state is None:
            raise KongError(NEEDS_BOOTSTRAP_MSG)
        if state["new"]:
            raise KongError("New migrations available; run 'kong migrations up' to proceed")
        # The router through the read connection (kong/init.lua:726, runloop.build_router("init")).
        self.current_at = float(self.db.run("SELECT extract(epoch FROM now())", operation="read")[0][0])
        self.router_version = self.built_version = None
        self.rebuild()
        self.ran = set()
        threading.Thread(target=self.poll_loop, daemon=True).start()
        threading.Thread(target=self.rebuild_loop, daemon=True).start()
        if self.role == "control_plane":
            threading.Thread(target=ControlPlane(self).serve, daemon=True).start()

    def rebuild(self):
        version = self.router_version
        rows = self.db.run("SELECT key, body FROM entities", operation="read")
        with self.lock:
            self.router = Router(entities_from_rows(rows))
            self.built_version = version
        log(f"router rebuilt with {len(self.router)} routes")
        if self.role == "control_plane":
            # clustering:push_config: the configuration changed, every data plane gets it whole.
            self.push_version += 1

    def poll_loop(self):
        """kong/cluster_events/init.lua poll(): events since the server time of the last poll that
        returned any (CURRENT_AT_KEY moves only then), minus the propagation grace period, through the
        read connection; each other node's event runs once, when its nbf has passed."""
        frequency = float(self.conf["db_update_frequency"])
        offset = float(self.conf["db_update_propagation"])
        while True:
            time.sleep(frequency)
            try:
                rows = self.db.run(
                    "SELECT id, node_id, extract(epoch FROM nbf), extract(epoch FROM now()) FROM cluster_events "
                    "WHERE at > to_timestamp(%s) AND at <= now() ORDER BY at", (self.current_at - offset - 0.001,), operation="read")
                if rows:
                    self.current_at = float(rows[0][3])
                for event_id, node_id, nbf, server_now in rows:
                    if node_id == self.node_id or event_id in self.ran:
                        continue
                    self.ran.add(event_id)
                    threading.Timer(max(0.0, float(nbf or 0) - float(server_now)), self.invalidate_router).start()
            except KongError as e:
                log(f"failed to poll cluster events: {e}")

    def invalidate_router(self):
        """The invalidation of `router:version` in the core cache: the next rebuild tick sees a new version."""
        self.router_version = str(uuid.uuid4())

    def rebuild_loop(self):
        frequency = float(self.conf["worker_state_update_frequency"])
        while True:
            time.sleep(frequency)
            if self.router_version == self.built_version:
                continue
            try:
                self.rebuild()
            except KongError as e:
                log(f"could not rebuild router via timer: {e}")

    def write(self, key, body):
        """An Admin API write, on the primary, and the cluster event every other node polls for."""
        propagation = float(self.conf["db_update_propagation"])
        if body is None:
            self.db.run("DELETE FROM entities WHERE key = %s OR (key LIKE %s AND body->>'id' = %s)", (key, key.split("/")[0] + "/%", key.split("/")[1]), fetch=False)
        else:
            self.db.run("INSERT INTO entities (key, body) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, updated_at = now()",
                        (key, json.dumps(body)), fetch=False)
        self.db.run("INSERT INTO cluster_events (node_id, nbf, channel, data) VALUES (%s, now() + make_interval(secs => %s), 'invalidations', %s)",
                    (self.node_id, propagation, key), fetch=False)
        # This node learns of its own change through worker events (kong/runloop/events.lua: the
        # router's version invalidated), the others through the cluster events: both rebuild on a tick.
        self.invalidate_router()

    def apply(self, config):
        """A data plane's new configuration from its control plane, persisted as Kong keeps it in LMDB."""
        with self.lock:
            self.router = Router(config)
        os.makedirs(os.path.dirname(self.lmdb), exist_ok=True)
        with open(self.lmdb + ".tmp", "w") as f:
            json.dump({"config": config}, f)
        os.replace(self.lmdb + ".tmp", self.lmdb)

    def entities(self, kind):
        if self.dbless:
            return getattr(self.router, kind, [])
        rows = self.db.run("SELECT key, body FROM entities WHERE key LIKE %s", (kind + "/%",))
        return [body for _, body in sorted(rows)]

    def database_reachable(self):
        try:
            self.db.connect("write").close()
            return True
        except KongError as e:
            log(f"failed to connect to postgres during /status endpoint check: {e}")
            return False


# --- hybrid mode ---------------------------------------------------------------------------------

CLUSTER_SERVER_NAME = "kong_clustering"
PING_INTERVAL, PING_WAIT = 30, 45


def cluster_context(conf, server):
    """cluster_mtls = shared: each end presents the cluster certificate and trusts only it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    context.load_cert_chain(conf["cluster_cert"], conf["cluster_cert_key"])
    context.load_verify_locations(conf["cluster_cert"])
    context.verify_mode = ssl.CERT_REQUIRED
    # Checked by hand below: Python's check ignores the subject's CN, which OpenSSL's falls back to.
    context.check_hostname = False
    return context


def major_minor(version):
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def send(sock, message):
    sock.sendall((json.dumps(message) + "\n").encode())


def messages(sock, buffered):
    """The complete lines received within a second: [] on a quiet second, None once the peer closed."""
    try:
        data = sock.recv(65536)
    except (socket.timeout, TimeoutError):
        return []
    if not data:
        return None
    buffered += data
    *lines, rest = buffered.split(b"\n")
    buffered[:] = rest
    return [json.loads(line) for line in lines if line]


class ControlPlane:
    """The cluster listener of a control plane: one thread per connected data plane, which alone
    reads and writes its socket."""

    def __init__(self, node):
        self.node = node
        with open(node.conf["cluster_cert"]) as f:
            self.own_digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()

    def serve(self):
        host, port = self.node.conf["cluster_listen"].split(",")[0].split()[0].rsplit(":", 1)
        listener = socket.create_server((host, int(port)))
        context = cluster_context(self.node.conf, server=True)
        while True:
            client, address = listener.accept()
            threading.Thread(target=self.data_plane, args=(context, client, address[0]), daemon=True).start()

    def data_plane(self, context, client, address):
        try:
            client.settimeout(10)
            sock = context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log(f"[clustering] data plane {address}: TLS handshake failed ({e})")
            client.close()
            return
        try:
            if hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest() != self.own_digest:
                log(f"[clustering] data plane {address} presented incorrect client certificate during handshake (digest does not match the control plane certificate)")
                return
            sock.settimeout(1)
            buffered = bytearray()
            received = []
            while not received:
                received = messages(sock, buffered)
                if received is None:
                    return
            dp_version = received[0].get("kong_version", "")
            (cp_major, cp_minor), (dp_major, dp_minor) = major_minor(VERSION), major_minor(dp_version)
            if dp_major != cp_major or dp_minor > cp_minor:
                message = f"data plane version {dp_version} is incompatible with control plane version {VERSION} ({cp_major}.x.y are accepted)"
                log(f"[clustering] {message}")
                send(sock, {"type": "error", "message": message})
                return
            log(f"[clustering] data plane {address} connected (version {dp_version})")
            sent = None
            while True:
                if self.node.push_version != sent:
                    sent = self.node.push_version
                    with self.node.lock:
                        router = self.node.router
                    send(sock, {"type": "reconfigure", "config": {"services": list(router.services.values()), "routes": router.routes, "plugins": router.plugins}})
                received = messages(sock, buffered)
                if received is None:
                    log(f"[clustering] data plane {address} closed the connection")
                    return
                for message in received:
                    if message.get("type") == "ping":
                        send(sock, {"type": "pong"})
        except (OSError, ValueError) as e:
            log(f"[clustering] connection to data plane {address} closed: {e}")
        finally:
            sock.close()


class DataPlane:
    """kong/clustering/data_plane.lua: connect, send basic info, apply every push; reconnect on loss."""

    def __init__(self, node):
        self.node = node
        self.uri = f"wss://{node.conf['cluster_control_plane']}/v1/outlet"

    def run(self):
        context = cluster_context(self.node.conf, server=False)
        host, port = self.node.conf["cluster_control_plane"].rsplit(":", 1)
        while True:
            delay = random.randint(5, 10)
            try:
                self.session(context, host, int(port))
                log(f"[clustering] connection to control plane {self.uri} closed (retrying after {delay} seconds)")
            except (OSError, ValueError, KongError) as e:
                log(f"[clustering] connection to control plane {self.uri} broken: {e} (retrying after {delay} seconds)")
            time.sleep(delay)

    def session(self, context, host, port):
        with socket.create_connection((host, port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=CLUSTER_SERVER_NAME) as sock:
                subject = dict(item[0] for item in sock.getpeercert()["subject"])
                if subject.get("commonName") != CLUSTER_SERVER_NAME:
                    raise KongError(f"certificate does not match host name {CLUSTER_SERVER_NAME}")
                send(sock, {"type": "basic_info", "kong_version": VERSION, "plugins": ["request-termination", "ip-restriction"]})
                sock.settimeout(1)
                buffered = bytearray()
                last_ping = heard = time.monotonic()
                while True:
                    now = time.monotonic()
                    if now - heard >= PING_WAIT:
                        raise KongError(f"no frame from the control plane for {PING_WAIT} seconds")
                    if now - last_ping >= PING_INTERVAL:
                        send(sock, {"type": "ping"})
                        last_ping = now
                    received = messages(sock, buffered)
                    if received is None:
                        return
                    if received:
                        heard = time.monotonic()
                    for message in received:
                        if message["type"] == "reconfigure":
                            self.node.apply(message["config"])
                            log(f"[clustering] received reconfigure frame from control plane: {len(self.node.router)} routes")
                        elif message["type"] == "error":
                            raise KongError(message["message"])


def declarative(conf):
    """A DB-less node's configuration: Kong's own parser decides whether Kong starts with it."""
    import yaml
    path = conf.get("declarative_config")
    if not path:
        return {}
    # Another prefix: Kong's loader would read the node's process secrets, which only Kong's own
    # `kong prepare` encrypts as it expects (kong/conf_loader/init.lua:433-458).
    with tempfile.TemporaryDirectory() as elsewhere:
        verdict = kong_tool("kong-config-parse", ["--conf", os.path.join(conf["prefix"], ".kong_env"), path], {"KONG_PREFIX": elsewhere})
    if verdict and verdict[0] != 0:
        raise KongError(f"error parsing declarative config file {path}:\n{verdict[1]}")
    with open(path) as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict) or config.get("_format_version") != "3.0":
        raise KongError(f"failed loading declarative config file {path}: expected _format_version 3.0")
    return config


def client_in(client, allowed):
    address = ipaddress.ip_address(client)
    return any(address in ipaddress.ip_network(a, strict=False) for a in allowed)


class Handler(BaseHTTPRequestHandler):
    node = None

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-type" for name, _ in headers):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def parts(self):
        path, _, query = self.path.partition("?")
        return path, [p for p in path.split("/") if p], dict(q.split("=", 1) for q in query.split("&") if "=" in q), query

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))


class CoreHandler(Handler):
    """The Admin API and the status API (nginx passes both here)."""

    def do_GET(self):
        node = self.node
        path, parts, query, _ = self.parts()
        if parts == ["status"]:
            # kong/api/routes/health.lua: kong.db:connect() on every request; 200 either way.
            status = {"server": {"connections_active": 1}}
            if node.dbless:
                status["configuration_hash"] = "%032x" % (abs(hash(json.dumps(node.router.routes, sort_keys=True))) if len(node.router) else 0)
            else:
                status["database"] = {"reachable": node.database_reachable()}
            return self.reply(200, status)
        if parts == ["status", "ready"]:
            # kong/status/ready.lua: the primary must connect; DB-less needs a non-empty config.
            if not node.dbless and not node.database_reachable():
                return self.reply(503, {"message": "failed to connect to database"})
            if node.dbless and len(node.router) == 0:
                return self.reply(503, {"message": "no configuration available (empty configuration present)"})
            return self.reply(200, {"message": "ready"})
        if not parts:
            return self.reply(200, {"version": VERSION, "configuration": {"database": node.conf["database"]}})
        if len(parts) == 1:
            try:
                items = node.entities(parts[0])
            except KongError as e:
                return self.reply(500, {"message": str(e)})
            tag = query.get("tags")
            return self.reply(200, {"data": [e for e in items if not tag or tag in e.get("tags", [])], "next": None})
        self.reply(404, {"message": "Not found"})

    def change(self, method):
        node = self.node
        _, parts, _, _ = self.parts()
        if node.dbless:
            return self.reply(405, {"message": "cannot " + method.lower() + " entities in DB-less mode"})
        if len(parts) != 2:
            return self.reply(404, {"message": "Not found"})
        key = "/".join(parts)
        body = None
        if method == "PUT":
            body = json.loads(self.body() or b"{}")
            body.setdefault("id" if parts[0] == "plugins" else "name", parts[1])
        try:
            node.write(key, body)
        except KongError as e:
            return self.reply(500, {"message": str(e)})
        if body is None:
            self.send_response(204)
            self.end_headers()
        else:
            self.reply(200, body)

    def do_PUT(self):
        self.change("PUT")

    def do_DELETE(self):
        self.change("DELETE")


class ProxyHandler(Handler):
    """Kong's proxy: the router, then request-termination and ip-restriction, then the service."""

    def proxy(self):
        node = self.node
        path, _, _, query = self.parts()
        path = normalize(path)
        with node.lock:
            router = node.router
        matched = router.match(self.command, path)
        if not matched:
            return self.reply(404, {"message": "no Route matched with those values"})
        prefix, route = matched
        for plugin in router.route_plugins(route):
            config = plugin.get("config", {})
            if plugin["name"] == "request-termination":
                return self.reply(config.get("status_code", 503), {"message": config.get("message", "Service unavailable")})
            if plugin["name"] == "ip-restriction" and not client_in(self.headers["X-Real-IP"], config.get("allow", [])):
                return self.reply(config.get("status", 403), {"message": config.get("message", "Your IP address is not allowed")})
        if not route.get("service"):
            return self.reply(503, {"message": "no Service found with those values"})
        service, host, port, upstream = router.upstream(route, prefix, path, query)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "x-real-ip", "connection")}
        headers["Host"] = self.headers["Host"] if route.get("preserve_host") else host
        try:
            connection = http.client.HTTPConnection(host, port, timeout=float(service.get("read_timeout", 60000)) / 1000)
            connection.request(self.command, upstream, body=self.body() or None, headers=headers)
            response = connection.getresponse()
            self.reply(response.status, response.read(), [(k, v) for k, v in response.getheaders() if k.lower() not in ("content-length", "connection", "transfer-encoding")])
        except OSError as e:
            self.reply(502, {"message": f"An invalid response was received from the upstream server ({e})"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = proxy


class UnixHTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_UNIX
    daemon_threads = True

    def server_bind(self):
        UnixStreamServer.server_bind(self)
        self.server_name, self.server_port = "kong", 0


def serve(prefix):
    """Kong.init, then the sockets nginx passes requests to. <prefix>/standin.started says how init ended."""
    started = os.path.join(prefix, "standin.started")
    try:
        node = Node(prefix)
    except KongError as e:
        with open(started, "w") as f:
            f.write(f"failed: {e}")
        return 1
    for kind, handler in (("core", CoreHandler), ("proxy", ProxyHandler)):
        handler.node = node
        path = os.path.join(prefix, f"standin-{kind}.sock")
        if os.path.exists(path):
            os.remove(path)
        httpd = UnixHTTPServer(path, handler)
        os.chmod(path, 0o666)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    with open(started, "w") as f:
        f.write("ok")
    threading.Event().wait()


# --- kong prepare --------------------------------------------------------------------------------

def listens(value):
    """kong.conf's listen value, for nginx: `0.0.0.0:8445 ssl` becomes plain (the stand-in has no certificate)."""
    if value == "off":
        return []
    return [part.strip().replace(" ssl", "").replace(" http2", "") for part in value.split(",")]


def server(listen, access_log, error_log, locations, directives=()):
    """One server block, with the log targets as nginx_kong.lua renders them (`off` stays off)."""
    if not listen:
        return ""
    lines = ["    server {", *[f"        listen {address};" for address in listen],
             f"        access_log {access_log};", f"        error_log {error_log} notice;",
             *[f"        {directive};" for directive in directives],
             *[f"        {location}" for location in locations], "    }"]
    return "\n".join(lines)


def proxy_directives(conf):
    """The proxy server's injected directives, as Kong 3.9.1 renders them (kong/templates/nginx_kong.lua:
    every `nginx_proxy_<name> = value` becomes `<name> value;`, then a `set_real_ip_from` per
    `trusted_ips` entry). `real_ip_header` and `real_ip_recursive` are aliases of nginx_proxy_real_ip_*
    (kong/conf_loader/constants.lua), with Kong's defaults (kong_defaults.lua). Real nginx parses
    them and its realip module then does what Kong's does."""
    injected = {"real_ip_header": conf.get("real_ip_header", "X-Real-IP"), "real_ip_recursive": conf.get("real_ip_recursive", "off")}
    injected.update({key[len("nginx_proxy_"):]: value for key, value in conf.items() if key.startswith("nginx_proxy_")})
    trusted = [ip.strip() for ip in conf.get("trusted_ips", "").split(",") if ip.strip() and conf.get("trusted_ips") != "NONE"]
    return [*[f"{name} {value}" for name, value in injected.items()], *[f"set_real_ip_from {ip}" for ip in trusted]]


def prepare(prefix, conf_path, conf):
    verdict = kong_tool("kong-check", [conf_path])
    if verdict and verdict[0] != 0:
        raise KongError(verdict[1])
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    os.makedirs(os.path.join(prefix, "pids"), exist_ok=True)
    refs = conf["$refs"]
    env_path = os.path.join(prefix, ".kong_env")
    with open(os.open(env_path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o640), "w") as f:
        for key in sorted(k for k in conf if k != "$refs"):
            f.write(f"{key} = {refs.get(key, conf[key])}\n")
    os.chmod(env_path, 0o640)
    # prefix_handler.lua: the resolved secrets for nginx's init, which reads and deletes the file.
    secrets_path = os.path.join(prefix, ".kong_process_secrets_http")
    if refs:
        with open(os.open(secrets_path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w") as f:
            f.write(base64.urlsafe_b64encode(json.dumps({k: conf[k] for k in refs}).encode()).decode())
    to = lambda kind: f"proxy_pass http://unix:{prefix}/standin-{kind}.sock;"
    proxy = f"location / {{ {to('proxy')} proxy_set_header X-Real-IP $remote_addr; proxy_set_header Host $host; }}"
    servers = [
        server(listens(conf["proxy_listen"]), conf["proxy_access_log"], conf["proxy_error_log"], [proxy], proxy_directives(conf)),
        server(listens(conf["admin_listen"]), conf["admin_access_log"], conf["admin_error_log"], [f"location / {{ {to('core')} }}"]),
        server(listens(conf["status_listen"]), conf["status_access_log"], conf["status_error_log"], [f"location / {{ {to('core')} }}"]),
        server(listens(conf["admin_gui_listen"]), conf["admin_gui_access_log"], conf["admin_gui_error_log"], ["location / { return 200 'Kong Manager'; }"]),
    ]
    daemon = "off" if conf.get("nginx_daemon") == "off" else "on"
    text = "\n".join([
        "pid pids/nginx.pid;",
        f"daemon {daemon};",
        f"user {conf['nginx_user']};",
        "worker_processes 1;",
        f"error_log {conf['proxy_error_log']} notice;",
        "events {}",
        "http {",
        "    proxy_read_timeout 75s;",
        *[s for s in servers if s],
        "}",
        "",
    ])
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write(text)


def warn_low_ulimit():
    """prepare_prefix's check (kong/cmd/utils/prefix_handler.lua:708-714 at 3.9.1), which `kong prepare`
    and every `kong migrations` command run (kong/cmd/migrations.lua:95)."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit < 4096:
        print(f'[warn] ulimit is currently set to "{limit}". For better performance set it to at least "4096" using "ulimit -n"', file=sys.stderr, flush=True)


def consume_process_secrets(prefix):
    """nginx's init reads the resolved secrets and deletes the file (kong/conf_loader/init.lua)."""
    path = os.path.join(prefix, ".kong_process_secrets_http")
    if os.path.exists(path):
        os.remove(path)


def cli(argv):
    opts, args = {}, []
    i = 0
    while i < len(argv):
        if argv[i] in ("-c", "--conf", "-p", "--prefix"):
            opts[argv[i].lstrip("-")[0]] = argv[i + 1]
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            args.append(argv[i])
            i += 1
    conf_path = opts.get("c", "/etc/kong/kong.conf")
    conf = parse_conf(conf_path)
    prefix = opts.get("p", conf["prefix"])
    if args[:1] in (["prepare"], ["migrations"]):
        warn_low_ulimit()
    if args[:1] == ["prepare"]:
        prepare(prefix, conf_path, conf)
        return 0
    if args[:1] == ["migrations"] and len(args) == 2:
        return migrations(args[1], conf)
    raise KongError(f"the stand-in has no command {' '.join(args)}")


def route(yaml_path, requests_path):
    """The router on a declarative file, for test/kong-judges.test.ts: one JSON answer per request."""
    import yaml
    with open(yaml_path) as f:
        router = Router(entities_from_declarative(yaml.safe_load(f)))
    with open(requests_path) as f:
        for line in filter(None, (l.strip() for l in f)):
            method, target = line.split()[:2]
            path, _, query = target.partition("?")
            path = normalize(path)
            matched = router.match(method, path)
            if not matched:
                print(json.dumps({"input": line, "status": 404}))
                continue
            prefix, r = matched
            answer = {"input": line, "status": "proxy", "route": r["name"], "plugins": [p["name"] for p in router.route_plugins(r)]}
            if r.get("service"):
                service, host, port, upstream = router.upstream(r, prefix, path, query)
                answer.update(service=service["name"], upstream=f"{host}:{port}{upstream}")
            print(json.dumps(answer))
    return 0


def main():
    try:
        if sys.argv[1] == "cli":
            return cli(sys.argv[2:])
        if sys.argv[1] == "serve":
            return serve(sys.argv[2])
        if sys.argv[1] == "consume-secrets":
            consume_process_secrets(sys.argv[2])
            return 0
        if sys.argv[1] == "route":
            return route(sys.argv[2], sys.argv[3])
    except KongError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
