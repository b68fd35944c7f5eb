#!/usr/bin/env python3
"""Delivery end to end: `sollecito run` sending N reminders (one invoice per
customer, all due) to a real SMTP server on loopback, timed, with the peak
RSS of the process. Run at two sizes to see that memory stays flat.

    cargo build --release
    python3 host/benches/delivery.py 5000 100000

The server is Postfix's smtp-sink if installed (`apt-get install postfix`),
else aiosmtpd (tests/fixtures/smtp_counter.py). Prints a Markdown table.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# SOLLECITO_BIN names another build (an older one, to compare in the same run).
BINARY = os.environ.get("SOLLECITO_BIN") or os.path.join(ROOT, "target", "release", "sollecito")
ALWAYS = (
    '[sending]\ncap_per_week = 1000\n[sending.windows.default]\n'
    'days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\nfrom = "00:00"\nto = "23:59"\n'
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port, log):
    sink = shutil.which("smtp-sink") or ("/usr/sbin/smtp-sink" if os.path.exists("/usr/sbin/smtp-sink") else None)
    if sink:
        cmd = [sink, "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"]
        name = "smtp-sink"
    else:
        cmd = [sys.executable, os.path.join(ROOT, "tests", "fixtures", "smtp_counter.py"), "--port", str(port), "--log", log]
        name = "aiosmtpd"
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, name
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit(f"{name} did not start")


def dataset(n):
    customers, invoices = [], []
    for i in range(n):
        customers.append({"id": f"c-{i:06}", "name": f"Cliente {i}", "email": f"c{i}@example.com",
                          "locale": "it-IT", "timezone": "Europe/Rome"})
        invoices.append({"id": f"d-{i:06}", "customer": f"c-{i:06}", "number": f"N-{i}", "currency": "EUR",
                         "amount_due": "100.00", "issued": "2026-10-01", "due": "2026-10-28"})
    return {"customers": customers, "invoices": invoices}


def measure(n, port):
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data.json")
        with open(data, "w") as f:
            json.dump(dataset(n), f)
        config = os.path.join(d, "sollecito.toml")
        with open(config, "w") as f:
            f.write(ALWAYS + f'[email]\nsmtp_url = "smtp://127.0.0.1:{port}"\n')
        base = [BINARY, "--db", os.path.join(d, "s.db"), "--config", config]
        subprocess.run(base + ["import", data, "--at", "2026-10-20T00:00:00Z"], check=True, stdout=subprocess.DEVNULL)
        started = time.monotonic()
        run = subprocess.Popen(base + ["run", "--at", "2026-11-05T12:00:00Z", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        out = run.stdout.read()
        # The run's own peak, not the import's: wait4 gives that child's usage.
        _, status, usage = os.wait4(run.pid, 0)
        run.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        if run.returncode != 0:
            raise SystemExit(f"run failed with {run.returncode}")
        return json.loads(out)["sent"], seconds, usage.ru_maxrss / 1024


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [5000, 100000]
    if not os.path.exists(BINARY):
        raise SystemExit("build first: cargo build --release")
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        server, name = start_server(port, os.path.join(d, "received.log"))
        try:
            print(f"| reminders due | sent | time | reminders/s | peak RSS | server |")
            print("|---|---|---|---|---|---|")
            for n in sizes:
                sent, seconds, rss = measure(n, port)
                print(f"| {n} | {sent} | {seconds:.1f} s | {sent / seconds:.0f} | {rss:.0f} MB | {name} |")
        finally:
            server.kill()


if __name__ == "__main__":
    main()
