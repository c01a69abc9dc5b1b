"""Google's global load balancer, as the VM harness plays it, in the harness network's cloud namespace.

Health checks as Google's documented defaults for the stack's check (geo-lb-health): one probe per
backend every `interval` seconds, each failing after `timeout` seconds, a backend healthy after
`healthy` consecutive successes (HTTP 200) and unhealthy after `unhealthy` consecutive failures;
a new backend starts unhealthy. Every `request_every` seconds it forwards `request_path` to each
healthy backend, as a front end does (from 35.191.0.9, with `X-Forwarded-For: <client>, <address>`).
What it hides: Google's many probers and front ends, connection reuse, and balancing between
healthy backends (every healthy backend gets every request here, so each one's serving is seen).

Probes go to the check's own port (`check_port`), requests to the backend's serving port (the
backend service's named port), as Google resolves them apart.

Usage: load-balancer.py CONFIG_JSON EVENTS_JSONL. CONFIG_JSON is read again every round, so the
harness adds backends (a new VM) while it runs: {"backends": {name: {"address", "port"}}, "path",
"check_port", "interval", "timeout", "healthy", "unhealthy", "request_path", "request_every",
"address", "until"}.
Each probe and request becomes a line of EVENTS_JSONL. It stops by itself at `until` (epoch seconds).
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

config_path, events_path = sys.argv[1], sys.argv[2]
lock = threading.Lock()
state = {}


def config():
    with open(config_path) as f:
        return json.load(f)


def record(event):
    with lock, open(events_path, "a") as f:
        f.write(json.dumps({"t": round(time.time(), 3), **event}) + "\n")


def get(url, timeout, headers=None):
    """(status, seconds, body): status 0 for no answer within the timeout or a refused connection."""
    started = time.time()
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, time.time() - started, response.read(2048).decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, time.time() - started, ""
    except Exception as e:
        return 0, time.time() - started, type(e).__name__


def health_checks(name):
    while time.time() < config()["until"]:
        c = config()
        backend = c["backends"][name]
        started = time.time()
        status, seconds, _ = get(f"http://{backend['address']}:{c['check_port']}{c['path']}", c["timeout"])
        ok = status == 200
        with lock:
            s = state.setdefault(name, {"healthy": False, "last_ok": None, "streak": 0})
            s["streak"] = s["streak"] + 1 if ok == s["last_ok"] else 1
            s["last_ok"] = ok
            changed = s["healthy"] != ok and s["streak"] >= (c["healthy"] if ok else c["unhealthy"])
            if changed:
                s["healthy"] = ok
            healthy = s["healthy"]
        record({"kind": "health", "backend": name, "status": status, "seconds": round(seconds, 3), "healthy": healthy, **({"changed": True} if changed else {})})
        time.sleep(max(0.0, c["interval"] - (time.time() - started)))


def requests():
    while time.time() < config()["until"]:
        c = config()
        with lock:
            healthy = [name for name, s in state.items() if s["healthy"]]
        for name in healthy:
            backend = c["backends"][name]
            threading.Thread(target=forward, args=(name, backend, c), daemon=True).start()
        time.sleep(c["request_every"])


def forward(name, backend, c):
    headers = {"X-Forwarded-For": f"198.51.100.7, {c['address']}"}
    status, seconds, body = get(f"http://{backend['address']}:{backend['port']}{c['request_path']}", 30, headers)
    record({"kind": "request", "backend": name, "status": status, "seconds": round(seconds, 3), "body": body[:200]})


started = set()
threading.Thread(target=requests, daemon=True).start()
while time.time() < config()["until"]:
    for name in config()["backends"]:
        if name not in started:
            started.add(name)
            threading.Thread(target=health_checks, args=(name,), daemon=True).start()
    time.sleep(0.5)
