"""Google's metadata server, Secret Manager and Kong's package repository, for the VM harness.

The container sees only its own loopback; /etc/hosts puts these names on it (TLS with the harness's CA):
  metadata.google.internal      127.0.0.2:80   the metadata server (needs `Metadata-Flavor: Google`)
  secretmanager.googleapis.com  127.0.0.3:443  Secret Manager's v1 `access` call
  kong-packages.test            127.0.0.4:443  a copy of Kong's apt repository layout, signed by a test key
  git.test                      127.0.0.5:443  the test service's repository (git's dumb HTTP protocol)
  storage.googleapis.com        127.0.0.6:443  Cloud Storage's JSON API: an object's metadata, its media (of a
                                               generation), and media uploads with ifGenerationMatch=0
Cloud Storage keeps objects under /srv/storage, which the harness binds from one host folder into
every VM of a test file: what the builder stores, the fleet's VMs download. An object is
<bucket>/<name>, its generation in .generations/<bucket>/<name>; calls are logged to
/var/lib/harness/storage-access.log.
Secret Manager answers only with the access token the metadata server handed out; it refuses the
first N reads of each secret with 403 when /etc/standin-google/refuse-first says N, as Secret
Manager does while a new IAM grant propagates. It logs each
call to /var/lib/harness/secret-access.log, with whether the token was on the command line of
the process that sent it (found through the connection's socket, while that process still runs).
"""
import base64
import json
import os
import secrets
import socket
import ssl
import threading
import time
import urllib.parse
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer

CONFIG = "/etc/standin-google"
TOKEN = secrets.token_urlsafe(24)
REFUSALS = {}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Metadata(Handler):
    def do_GET(self):
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.reply(403, {"error": "Missing Metadata-Flavor:Google header."})
        path = self.path.split("?")[0].removeprefix("/computeMetadata/v1/")
        if path == "instance/service-accounts/default/token":
            return self.reply(200, {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"})
        if path in ("instance/id", "instance/name"):
            with open(os.path.join(CONFIG, path.replace("/", "-"))) as f:
                return self.reply(200, f.read().encode(), "application/text")
        if path.startswith("instance/attributes/"):
            file = os.path.join(CONFIG, "attributes", path.removeprefix("instance/attributes/"))
            if os.path.isfile(file):
                with open(file, "rb") as f:
                    return self.reply(200, f.read(), "application/text")
        self.reply(404, b"Not Found", "text/html")


def client_command_line(port):
    """The command line of the local process whose TCP socket has source port `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").removeprefix("socket:[").rstrip("]") in inodes:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        return f.read().decode(errors="replace").replace("\0", " ")
        except OSError:
            continue
    return None


class SecretManager(Handler):
    def do_GET(self):
        # /v1/projects/<project>/secrets/<id>/versions/latest:access
        parts = self.path.split("/")
        auth = self.headers.get("Authorization", "")
        command_line = client_command_line(self.client_address[1])
        with open("/var/lib/harness/secret-access.log", "a") as log:
            log.write(json.dumps({"path": self.path, "token_ok": auth == f"Bearer {TOKEN}", "client": (command_line or "")[:200],
                                  "token_on_command_line": TOKEN in (command_line or "")}) + "\n")
        if auth != f"Bearer {TOKEN}":
            return self.reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        if len(parts) != 8 or parts[4] != "secrets" or parts[7] != "latest:access":
            return self.reply(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
        refuse_first = os.path.join(CONFIG, "refuse-first")
        if os.path.isfile(refuse_first) and REFUSALS.get(parts[5], 0) < int(open(refuse_first).read()):
            REFUSALS[parts[5]] = REFUSALS.get(parts[5], 0) + 1
            return self.reply(403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "Permission 'secretmanager.versions.access' denied"}})
        file = os.path.join(CONFIG, "secrets", parts[5])
        if not os.path.isfile(file):
            return self.reply(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": f"Secret [{parts[5]}] not found"}})
        with open(file, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        self.reply(200, {"name": self.path, "payload": {"data": data}})


STORAGE = "/srv/storage"


class Storage(Handler):
    """Cloud Storage's JSON API as the scripts call it (cloud.google.com/storage/docs/json_api/v1/objects):
    objects.get (metadata, or media with alt=media; generation=N selects a generation, 404 when it
    is not the live one) and objects.insert with uploadType=media (ifGenerationMatch=0: 412 when the
    object exists). Generations are microsecond timestamps, as Google's are."""

    def paths(self, bucket, name):
        return os.path.join(STORAGE, bucket, name), os.path.join(STORAGE, ".generations", bucket, name)

    def authorized(self, call):
        ok = self.headers.get("Authorization", "") == f"Bearer {TOKEN}"
        with open("/var/lib/harness/storage-access.log", "a") as log:
            log.write(json.dumps({"call": call, "token_ok": ok}) + "\n")
        if not ok:
            self.reply(401, {"error": {"code": 401, "message": "Invalid Credentials"}})
        return ok

    def resource(self, bucket, name, generation):
        return {"kind": "storage#object", "bucket": bucket, "name": name, "generation": generation}

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.split("/")  # /storage/v1/b/<bucket>/o/<name>
        if not self.authorized(f"GET {self.path}"):
            return
        if len(parts) != 7 or parts[1:4] != ["storage", "v1", "b"] or parts[5] != "o":
            return self.reply(404, {"error": {"code": 404, "message": "Not Found"}})
        bucket, name = parts[4], urllib.parse.unquote(parts[6])
        data, generation_file = self.paths(bucket, name)
        if not os.path.isfile(data):
            return self.reply(404, {"error": {"code": 404, "message": f"No such object: {bucket}/{name}"}})
        generation = open(generation_file).read().strip()
        if query.get("generation", generation) != generation:
            return self.reply(404, {"error": {"code": 404, "message": f"No such object: {bucket}/{name}#{query['generation']}"}})
        if query.get("alt") != "media":
            return self.reply(200, self.resource(bucket, name, generation))
        with open(data, "rb") as f:
            self.reply(200, f.read(), "application/octet-stream")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.split("/")  # /upload/storage/v1/b/<bucket>/o
        if not self.authorized(f"POST {self.path}"):
            return
        if len(parts) != 7 or parts[1:5] != ["upload", "storage", "v1", "b"] or parts[6] != "o" or query.get("uploadType") != "media" or "name" not in query:
            return self.reply(400, {"error": {"code": 400, "message": "only uploadType=media with a name"}})
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        data, generation_file = self.paths(parts[5], query["name"])
        if query.get("ifGenerationMatch") == "0" and os.path.exists(data):
            return self.reply(412, {"error": {"code": 412, "message": "At least one of the pre-conditions you specified did not hold."}})
        generation = str(time.time_ns() // 1000)
        for path, content in ((data, body), (generation_file, generation.encode())):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".part", "wb") as f:
                f.write(content)
            os.replace(path + ".part", path)
        self.reply(200, self.resource(parts[5], query["name"], generation))


class Files(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(address, handler, context=None):
    httpd = ThreadingHTTPServer(address, handler)
    if context:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()


def notify_ready():
    """sd_notify(READY=1): the units that use these servers start only once they listen (Type=notify)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if address:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect("\0" + address[1:] if address.startswith("@") else address)
            s.sendall(b"READY=1")


def main():
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(os.path.join(CONFIG, "tls.crt"), os.path.join(CONFIG, "tls.key"))
    serve(("127.0.0.2", 80), Metadata)
    serve(("127.0.0.3", 443), SecretManager, tls)
    serve(("127.0.0.4", 443), partial(Files, directory="/srv/kong-packages"), tls)
    serve(("127.0.0.5", 443), partial(Files, directory="/srv/git"), tls)
    serve(("127.0.0.6", 443), Storage, tls)
    notify_ready()
    threading.Event().wait()


if __name__ == "__main__":
    main()
