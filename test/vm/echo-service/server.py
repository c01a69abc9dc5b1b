"""The harness's microservice: built and run through the same `run.kind: git` path as the messenger.

Like a JVM service it takes a few seconds before it listens, so the order in which a VM's health
checks start to pass is visible. GET /healthz answers ok; GET /env shows the environment it got.
"""
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

time.sleep(float(os.environ.get("START_DELAY_SEC", "4")))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok"
        elif self.path == "/env":
            body = json.dumps(dict(os.environ), sort_keys=True).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
