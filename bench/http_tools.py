"""The machinery of bench/http.py: wrk and gunicorn (installed when missing), the servers of a run
(each in its own process group, all stopped at the end whatever happens), one wrk load and its
figures, JSON calls to the API, the ``mallow`` command (the scratch database and a free port are
bench/common.py's)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from common import ROOT, free_port
from http_lua import stats_of

VENV_BIN = os.path.dirname(sys.executable)
WORKERS = 4


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def ensure_tools() -> None:
    """wrk via apt-get (root only, when absent) and gunicorn via pip into this virtualenv."""
    if not shutil.which("wrk"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            say("bench/http.py: installing wrk with apt-get")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False, capture_output=True)
        if not shutil.which("wrk"):
            raise SystemExit("bench/http.py needs wrk (apt-get install wrk)")
    if not os.path.exists(os.path.join(VENV_BIN, "gunicorn")):
        say("bench/http.py: installing gunicorn with pip")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "gunicorn>=22"], check=True)


class Servers:
    """The gunicorn processes this run started; :meth:`stop` ends each one's process group."""

    def __init__(self, logs: str):
        self.logs, self.running = logs, {}

    def start(self, name: str, app: str, env: dict, cwd: str, ready: str) -> str:
        """Serve ``app`` (gunicorn's ``module:factory(...)``) on a free port; returns its base URL
        once ``ready`` (a path) answers 200."""
        port = free_port()
        log = open(os.path.join(self.logs, f"{name}.log"), "w")  # noqa: SIM115 (closed with the process)
        command = [os.path.join(VENV_BIN, "gunicorn"), "-w", str(WORKERS), "-k", "sync", "-b", f"127.0.0.1:{port}"]
        process = subprocess.Popen(
            [*command, app], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running[name] = (process, log)
        url = f"http://127.0.0.1:{port}"
        self._wait_ready(name, url + ready)
        return url

    def _wait_ready(self, name: str, url: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"{name} did not answer {url} within {seconds:.0f} s:\n{self.log_tail(name)}")

    def log_tail(self, name: str) -> str:
        with open(os.path.join(self.logs, f"{name}.log")) as f:
            return f.read()[-2000:]

    def stop(self, name: str | None = None) -> None:
        """Stop server ``name``, or every server."""
        names = [name] if name else list(self.running)
        for each in names:
            process, _log = self.running[each]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for each in names:
            process, log = self.running.pop(each)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            log.close()


def call(url: str, method: str = "GET", body: dict | None = None, token: str | None = None, timeout: float = 30):
    """A JSON request; the answer's JSON (an error answer stops the bench, with its body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{method} {url} answered {error.code}: {error.read()[:500]!r}") from None
    return json.loads(text) if text else None


def get(url: str, timeout: float = 30) -> tuple[int, dict]:
    """A plain ``GET``: its status and headers (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def mallow(env: dict, *args: str) -> str:
    done = subprocess.run([os.path.join(VENV_BIN, "mallow"), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"mallow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _figures(out: str, url: str) -> dict:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rate:
        raise SystemExit(f"wrk printed no rate for {url}:\n{out}")

    def percentile(p: str) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(found.group(1)) * UNITS[found.group(2)] if found else float("nan")

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": float(rate.group(1)),
        "p50": percentile("50"),
        "p99": percentile("99"),
        "bad": int(bad.group(1)) if bad else 0,
        "errors": errors.group(0) if errors else "",
        "stats": stats_of(out),
    }


def _command(seconds: float, script: str | None) -> list[str]:
    command = ["wrk", "-t1", "-c32", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    return command + (["-s", script] if script else [])


def wrk(url: str, seconds: float, script: str | None = None) -> dict:
    """One wrk run: req/s, p50/p99 in ms, non-2xx/3xx answers, socket errors, the script's stats."""
    out = subprocess.run([*_command(seconds, script), url], capture_output=True, text=True, timeout=seconds + 60).stdout
    return _figures(out, url)


def wrk_until(url: str, script: str, marker: str, seconds: float) -> tuple[dict, bool]:
    """wrk for at most ``seconds``, stopped (SIGINT: it still prints its figures) as soon as the
    script prints ``marker``; returns the figures and whether the marker came."""
    process = subprocess.Popen(
        [*_command(seconds, script), url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines, seen = [], False
    try:
        for line in process.stdout:
            lines.append(line)
            if line.strip() == marker and not seen:
                seen = True
                process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return _figures("".join(lines), url), seen
