"""The harness's eyes inside the container; /etc/harness/harness.json says what to look at.

`probe` (from early boot): polls the load balancer's health URL and each service's health URL
every 0.2 s and records when each first answered 2xx, in seconds of /proc/uptime (the host's
clock: a container shares the kernel).
`check` (after the startup script): whether the startup script succeeded, which URLs answer (and
the bodies of some), and whether a killed unit comes back; then powers the container off, or, for
a VM that stays up (`stay`), once the harness writes /var/lib/harness/poweroff.
`deadline` (from early boot): powers the container off when a boot script hangs past the deadline.
Results go to /var/lib/harness/<probe|check>-<boot id>.json.
"""
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.request

with open("/etc/harness/harness.json") as f:
    CONFIG = json.load(f)
with open("/proc/sys/kernel/random/boot_id") as f:
    BOOT_ID = f.read().strip().replace("-", "")


def uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def body(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except Exception as e:
        return f"unreachable: {e}"


def status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0


def send_forwarded(source, port, path, xff):
    """A request from `source` (on loopback, as a Google front end's or a client's address: the
    harness adds it) carrying X-Forwarded-For `xff`; Kong's access log shows which client it believed."""
    connection = http.client.HTTPConnection(source, port, timeout=5, source_address=(source, 0))
    try:
        connection.request("GET", path, headers={"X-Forwarded-For": xff})
        connection.getresponse().read()
    except OSError:
        pass  # Kong not running: the test finds no log line.
    finally:
        connection.close()


def save(kind, result):
    with open(f"/var/lib/harness/{kind}-{BOOT_ID}.json", "w") as f:
        json.dump(result, f, indent=1)


def probe_urls():
    # Services before the load balancer's check in every round: a round in which both first answer
    # records the service first, so only a check that truly passes early shows as early.
    return {**CONFIG["services"], **({"lb": CONFIG["lb"]} if CONFIG.get("lb") else {})}


def probe():
    urls = probe_urls()
    first = {}
    started = time.monotonic()
    while len(first) < len(urls) and time.monotonic() - started < 900:
        for name, url in urls.items():
            if name not in first and 200 <= status(url) < 300:
                first[name] = round(uptime(), 2)
                save("probe", first)
        time.sleep(0.2)


def unit_property(unit, prop):
    return subprocess.run(["systemctl", "show", "-P", prop, unit], capture_output=True, text=True).stdout.strip()


def check():
    # The runner's last line may reach the journal a moment after its unit finished (a loaded machine).
    for _ in range(50):
        journal = subprocess.run(["journalctl", "-b", "-u", "google-startup-scripts", "-o", "cat"], capture_output=True, text=True).stdout
        if "startup-script exit status" in journal:
            break
        time.sleep(0.2)
    result = {
        "startup_ok": "startup-script exit status 0" in journal,
        "answers": {url: status(url) for url in CONFIG["ready"]},
        "bodies": {url: body(url) for url in CONFIG.get("fetch", [])},
        "kills": {},
    }
    for request in CONFIG.get("forwarded", []):
        send_forwarded(**request)
    for kill in CONFIG.get("kill", []):
        unit, url = kill["unit"], kill["url"]
        before = int(unit_property(unit, "NRestarts") or 0)
        subprocess.run(["systemctl", "kill", "--signal=SIGKILL", "--kill-whom=main", unit])
        start = time.monotonic()
        # Until systemd has restarted it (a loaded machine may take it a moment to notice), then answers.
        while time.monotonic() - start < 90 and int(unit_property(unit, "NRestarts") or 0) == before:
            time.sleep(0.2)
        while time.monotonic() - start < 90 and not 200 <= status(url) < 300:
            time.sleep(0.5)
        result["kills"][unit] = {
            "restarts": int(unit_property(unit, "NRestarts") or 0) - before,
            "answers_again": 200 <= status(url) < 300,
            "seconds": round(time.monotonic() - start, 1),
        }
    # The probe polls one URL at a time: before this VM powers off, let it record what answers now,
    # or a VM that serves would look as if it never had (seen once, when Kong started last thing).
    answering = [name for name, url in probe_urls().items() if 200 <= status(url) < 300]
    probe_file = f"/var/lib/harness/probe-{BOOT_ID}.json"
    for _ in range(100):
        try:
            with open(probe_file) as f:
                recorded = json.load(f)
        except (OSError, ValueError):  # not written yet, or being written
            recorded = {}
        if all(name in recorded for name in answering):
            break
        time.sleep(0.1)
    save("check", result)
    while CONFIG.get("stay") and not os.path.exists("/var/lib/harness/poweroff"):
        time.sleep(0.2)
    subprocess.run(["systemctl", "poweroff", "--no-block"])


def deadline():
    time.sleep(CONFIG["deadline_sec"])
    if os.path.exists(f"/var/lib/harness/check-{BOOT_ID}.json"):
        return
    save("deadline", {"seconds": CONFIG["deadline_sec"]})
    subprocess.run(["systemctl", "poweroff", "--no-block"])


if __name__ == "__main__":
    {"probe": probe, "check": check, "deadline": deadline}[sys.argv[1]]()
