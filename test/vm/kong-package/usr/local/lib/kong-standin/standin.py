"""Kong 3.9.1 stand-in for the VM harness: what a VM's boot depends on, and nothing else.

- `kong prepare`: reads kong.conf and KONG_* overrides like kong/conf_loader, resolves `{vault://env/..}`
  references (kong/vaults/env: upper-cased, `-` to `_`), writes <prefix>/.kong_env (0640) with the
  references, not the values, the resolved secrets to <prefix>/.kong_process_secrets (0600), and
  nginx.conf with the listeners and log targets of kong.conf, as kong/templates/nginx_kong.lua does.
- `kong migrations list|bootstrap|up|finish`: the exit codes and messages of kong/cmd/migrations.lua.
- nginx init (`init`) and the Admin API and /status/ready (`serve`), behind Debian's real nginx.

The database: a PostgreSQL on loopback is real (psql logs in as pg_user with pg_password, and
bootstrap creates a table, which fails without OWNER kong on PostgreSQL 15); any other pg_host is a
stand-in Cloud SQL, a directory the harness provides, with the password it expects.
"""
import base64
import json
import os
import re
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import UnixStreamServer

DB_ROOT = "/var/lib/kong-standin-db"
NEEDS_BOOTSTRAP_MSG = (
    "Database needs bootstrapping or is older than Kong 1.0.\n\n"
    "To start a new installation from scratch, run 'kong migrations bootstrap'."
)


class KongError(Exception):
    pass


def parse_conf(path):
    conf = {"prefix": "/usr/local/kong", "nginx_user": "kong kong", "nginx_daemon": "on", "admin_listen": "127.0.0.1:8001",
            "proxy_listen": "0.0.0.0:8000", "status_listen": "127.0.0.1:8007", "admin_gui_listen": "0.0.0.0:8002, 0.0.0.0:8445 ssl",
            "proxy_access_log": "logs/access.log", "proxy_error_log": "logs/error.log", "admin_access_log": "logs/admin_access.log",
            "admin_error_log": "logs/error.log", "status_access_log": "off", "status_error_log": "logs/status_error.log",
            "admin_gui_access_log": "logs/admin_gui_access.log", "admin_gui_error_log": "logs/admin_gui_error.log",
            "database": "postgres", "pg_host": "127.0.0.1", "pg_port": "5432", "pg_user": "kong", "pg_database": "kong"}
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


class Database:
    def __init__(self, conf):
        self.conf = conf
        self.host = conf["pg_host"]
        self.dir = os.path.join(DB_ROOT, self.host)
        self.loopback = self.host in ("127.0.0.1", "localhost", "::1")
        password = conf.get("pg_password", "")
        if self.loopback:
            self.psql("SELECT 1")
            os.makedirs(self.dir, exist_ok=True)
        elif not os.path.isdir(self.dir):
            raise KongError(f"[PostgreSQL error] failed to retrieve PostgreSQL server_version_num: timeout connecting to {self.host}:5432")
        elif password != self.state().get("password"):
            raise KongError(f"[PostgreSQL error] failed to retrieve PostgreSQL server_version_num: FATAL: password authentication failed for user \"{conf['pg_user']}\"")

    def psql(self, sql):
        env = {**os.environ, "PGPASSWORD": self.conf.get("pg_password", "")}
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-U", self.conf["pg_user"], "-d", self.conf["pg_database"], "-c", sql],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise KongError(f"[PostgreSQL error] {r.stderr.strip()}")

    def load(self, name):
        try:
            with open(os.path.join(self.dir, f"{name}.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def store(self, name, data):
        with open(os.path.join(self.dir, f"{name}.json"), "w") as f:
            json.dump(data, f, sort_keys=True)

    def state(self):
        """The schema state: bootstrapped, pending (an up without its finish), new (migrations to run)."""
        return self.load("state")

    def save(self, **changes):
        self.store("state", {**self.state(), **changes})

    def entities(self):
        return self.load("entities")

    def save_entities(self, entities):
        self.store("entities", entities)


def migrations(command, conf):
    db = Database(conf)
    state = db.state()
    bootstrapped, pending, new = state.get("bootstrapped", False), state.get("pending", False), state.get("new", False)
    if command == "list":
        if not bootstrapped:
            print(NEEDS_BOOTSTRAP_MSG)
            return 3
        print("Executed migrations:\n  core: 000_base, ..., 023_360_to_370")
        if pending:
            print("\nPending migrations:\n  core: 024_380_to_390")
        if new:
            print("\nNew migrations available:\n  core: 025_390_to_3100")
        if pending and new:
            print("\nRun 'kong migrations finish' when ready to complete pending migrations")
            return 4
        if pending:
            print("\nRun 'kong migrations finish' when ready")
            return 4
        if new:
            print("\nRun 'kong migrations up' to proceed")
            return 5
        return 0
    if command == "bootstrap":
        if bootstrapped:
            print("Database already bootstrapped")
            return 0
        if db.loopback:
            db.psql("CREATE TABLE IF NOT EXISTS schema_meta (key text PRIMARY KEY, executed text[])")
        db.save(bootstrapped=True, pending=False, new=False)
        print("Bootstrapping database...\nDatabase is up-to-date")
        return 0
    if not bootstrapped:
        raise KongError("Cannot run migrations: " + NEEDS_BOOTSTRAP_MSG)
    if command == "up":
        if pending:
            raise KongError("Database has pending migrations; run 'kong migrations finish'")
        if new:
            db.save(new=False, pending=True)
            print("1 migration processed\n\nDatabase has pending migrations; run 'kong migrations finish' when ready")
        else:
            print("Database is already up-to-date")
        return 0
    if command == "finish":
        if pending:
            db.save(pending=False)
            print("1 migration processed\nDatabase is up-to-date")
        else:
            print("No pending migrations to finish")
        return 0
    raise KongError(f"unknown command {command}")


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


def real_ip_directives(conf):
    """The proxy server's client-address directives, as Kong 3.9.1 renders them: `real_ip_header`
    and `real_ip_recursive` are aliases of nginx_proxy_real_ip_* (kong/conf_loader/constants.lua),
    injected as nginx directives, and each `trusted_ips` entry becomes `set_real_ip_from`
    (kong/templates/nginx_kong.lua). Real nginx's realip module then does what Kong's does."""
    trusted = [ip.strip() for ip in conf.get("trusted_ips", "").split(",") if ip.strip() and conf.get("trusted_ips") != "NONE"]
    return [f"real_ip_header {conf.get('real_ip_header', 'X-Real-IP')}",
            f"real_ip_recursive {conf.get('real_ip_recursive', 'off')}",
            *[f"set_real_ip_from {ip}" for ip in trusted]]


def prepare(prefix, conf):
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    os.makedirs(os.path.join(prefix, "pids"), exist_ok=True)
    refs = conf["$refs"]
    env_path = os.path.join(prefix, ".kong_env")
    with open(os.open(env_path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o640), "w") as f:
        for key in sorted(k for k in conf if k != "$refs"):
            f.write(f"{key} = {refs.get(key, conf[key])}\n")
    os.chmod(env_path, 0o640)
    secrets_path = os.path.join(prefix, ".kong_process_secrets")
    if refs:
        with open(os.open(secrets_path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w") as f:
            f.write(base64.urlsafe_b64encode(json.dumps({k: conf[k] for k in refs}).encode()).decode())
    elif os.path.exists(secrets_path):
        os.remove(secrets_path)
    core = f"proxy_pass http://unix:{prefix}/standin-core.sock;"
    no_route = """location / { return 404 '{"message":"no Route matched with those values"}'; }"""
    servers = [
        server(listens(conf["proxy_listen"]), conf["proxy_access_log"], conf["proxy_error_log"], [no_route], real_ip_directives(conf)),
        server(listens(conf["admin_listen"]), conf["admin_access_log"], conf["admin_error_log"], [f"location / {{ {core} }}"]),
        server(listens(conf["status_listen"]), conf["status_access_log"], conf["status_error_log"],
               ["location = /status { return 200 '{}'; }", f"location = /status/ready {{ {core} }}"]),
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
        *[s for s in servers if s],
        "}",
        "",
    ])
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write(text)


def init(prefix):
    """Kong's init_by_lua: the schema must allow starting (kong/cmd/utils/migrations.lua check_state)."""
    conf = load_prefix_conf(prefix)
    if conf["database"] == "off":
        declarative(conf)
        return
    state = Database(conf).state()
    if not state.get("bootstrapped"):
        raise KongError(NEEDS_BOOTSTRAP_MSG)
    if state.get("new"):
        raise KongError("New migrations available; run 'kong migrations up' to proceed")


def declarative(conf):
    import yaml
    path = conf.get("declarative_config")
    if not path:
        return {"services": []}
    with open(path) as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict) or config.get("_format_version") != "3.0":
        raise KongError(f"failed loading declarative config file {path}: expected _format_version 3.0")
    return config


def declarative_entities(conf, kind):
    """Services and routes of the declarative config (routes nested under their service)."""
    services = declarative(conf).get("services", [])
    if kind == "services":
        return services
    return [route for service in services for route in service.get("routes", [])] if kind == "routes" else []


class AdminHandler(BaseHTTPRequestHandler):
    conf = {}

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        path, _, query = self.path.partition("?")
        return [p for p in path.split("/") if p], dict(q.split("=", 1) for q in query.split("&") if "=" in q)

    def do_GET(self):
        parts, query = self.route()
        dbless = self.conf["database"] == "off"
        if parts == ["status", "ready"]:
            try:
                if dbless:
                    ok = bool(declarative(self.conf).get("services"))
                else:
                    init(self.conf["prefix"])
                    ok = True
            except KongError as e:
                return self.reply(503, {"message": str(e)})
            return self.reply(200 if ok else 503, {"message": "ready" if ok else "no configuration available (empty configuration present)"})
        if not parts:
            return self.reply(200, {"version": "3.9.1", "configuration": {"database": self.conf["database"]}})
        if len(parts) == 1:
            if dbless:
                items = declarative_entities(self.conf, parts[0])
            else:
                try:
                    entities = Database(self.conf).entities()
                except KongError as e:
                    return self.reply(500, {"message": str(e)})
                items = [e for key, e in sorted(entities.items()) if key.startswith(parts[0] + "/")]
            tag = query.get("tags")
            return self.reply(200, {"data": [e for e in items if not tag or tag in e.get("tags", [])], "next": None})
        self.reply(404, {"message": "Not found"})

    def write(self, method):
        parts, _ = self.route()
        if self.conf["database"] == "off":
            return self.reply(405, {"message": "cannot " + method.lower() + " entities in DB-less mode"})
        if len(parts) != 2:
            return self.reply(404, {"message": "Not found"})
        db = Database(self.conf)
        entities = db.entities()
        key = "/".join(parts)
        if method == "PUT":
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            body.setdefault("id" if parts[0] == "plugins" else "name", parts[1])
            entities[key] = body
            db.save_entities(entities)
            return self.reply(200, body)
        if entities.pop(key, None) is None:
            matches = [k for k, e in entities.items() if k.startswith(parts[0] + "/") and e.get("id") == parts[1]]
            for k in matches:
                entities.pop(k)
        db.save_entities(entities)
        self.send_response(204)
        self.end_headers()

    def do_PUT(self):
        self.write("PUT")

    def do_DELETE(self):
        self.write("DELETE")


class UnixHTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_UNIX

    def server_bind(self):
        UnixStreamServer.server_bind(self)
        self.server_name, self.server_port = "kong", 0


def serve(prefix):
    AdminHandler.conf = load_prefix_conf(prefix)
    AdminHandler.conf["prefix"] = prefix
    path = os.path.join(prefix, "standin-core.sock")
    if os.path.exists(path):
        os.remove(path)
    httpd = UnixHTTPServer(path, AdminHandler)
    os.chmod(path, 0o666)
    httpd.serve_forever()


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
    conf = parse_conf(opts.get("c", "/etc/kong/kong.conf"))
    prefix = opts.get("p", conf["prefix"])
    if args[:1] == ["prepare"]:
        prepare(prefix, conf)
        return 0
    if args[:1] == ["migrations"] and len(args) == 2:
        return migrations(args[1], conf)
    raise KongError(f"the stand-in has no command {' '.join(args)}")


def main():
    try:
        if sys.argv[1] == "cli":
            return cli(sys.argv[2:])
        if sys.argv[1] == "init":
            init(sys.argv[2])
            return 0
        if sys.argv[1] == "serve":
            serve(sys.argv[2])
            return 0
    except KongError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
