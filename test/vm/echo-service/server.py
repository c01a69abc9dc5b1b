"""The harness's microservice: built and run through the same `run.kind: git` path as the messenger.

Like a JVM service it takes a few seconds before it listens, so the order in which a VM's health
checks start to pass is visible. GET /healthz answers ok; GET /env shows the environment it got
(and its arguments, as ARGV);
any other request answers with its method, path and the region the service runs in, so a request
through Kong shows where it arrived.
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

time.sleep(float(os.environ.get("START_DELAY_SEC", "4")))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok"
        elif self.path == "/env":
            body = json.dumps(dict(os.environ, ARGV=sys.argv[1:]), sort_keys=True).encode()
        else:
            body = json.dumps({"method": self.command, "path": self.path, "region": os.environ.get("REGION")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
