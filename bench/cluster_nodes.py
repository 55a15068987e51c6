"""The processes of bench/cluster.py, each in a process group of its own (killed as a whole, and
all of them stopped at the end whatever happens): a Redis server of the run, two app nodes
(``mallow serve --workers N``), two job workers (``mallow worker``) and the proxy in front —
nginx (installed with apt-get when missing and running as root) or, without it, the small
asyncio proxy of bench/cluster_proxy.py.

The proxy's rule for a node that fails (nginx ``proxy_next_upstream error timeout``, without
``non_idempotent``): a request that could not be *sent* (connection refused: the node is down) goes
to the other node, whatever its method; a request already sent when the node died is retried on
the other node only when its method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS). A POST that
was sent may have been carried out (an order placed, a payment started) before the node died: sent
again blindly it could be carried out twice, so the proxy answers 502 and the *client* decides
— Mallow's order placement takes an ``Idempotency-Key``, and the load generator retries with the
same key, which answers the order already placed instead of placing a second one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from common import HERE, ROOT, free_port

VENV_BIN = os.path.dirname(sys.executable)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Group:
    """One process started in a session (process group) of its own, its output in ``log``."""

    def __init__(self, name: str, command: list[str], env: dict, logs: str, cwd: str = ROOT):
        self.name, self.command, self.env, self.cwd = name, command, env, cwd
        self.log_path = os.path.join(logs, f"{name}.log")
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it; closed when we drop it)
        try:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group: the master and every worker at once, no goodbye."""
        if self.running:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM to the group (:meth:`reap` waits for it)."""
        if self.running:
            assert self.process is not None
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def reap(self, deadline: float) -> None:
        """Wait for the process until ``deadline`` (``time.monotonic()``), then SIGKILL the group,
        also children that outlived their parent (a gunicorn worker, an rq work horse)."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the group, SIGKILL after ``grace`` seconds."""
        self.terminate()
        self.reap(time.monotonic() + grace)

    def tail(self, chars: int = 2000) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""


def wait_for(url: str, seconds: float, group: Group | None = None) -> float:
    """Poll ``url`` until it answers 200 (at most ``seconds``); returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if group is not None and not group.running:
            raise SystemExit(f"{group.name} stopped before {url} answered:\n{group.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    tail = f":\n{group.tail()}" if group is not None else ""
    raise SystemExit(f"{url} did not answer 200 within {seconds:.0f} s{tail}")


# --- Redis --------------------------------------------------------------------------------------


def start_redis(logs: str) -> tuple[Group, str]:
    """A Redis server of the run on a free loopback port (nothing saved): ``(group, url)``."""
    if not shutil.which("redis-server"):
        raise SystemExit("bench/cluster.py needs redis-server (apt-get install redis-server), or --redis-url")
    port = free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    group = Group("redis", command, dict(os.environ), logs)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    for _ in range(100):
        try:
            if client.ping():
                return group, f"redis://127.0.0.1:{port}/0"
        except redis.RedisError:
            time.sleep(0.1)
    raise SystemExit(f"redis-server did not answer on port {port}:\n{group.tail()}")


# --- app nodes and job workers ------------------------------------------------------------------


class Node:
    """An app node: ``mallow serve --server gunicorn --workers N --port P`` (gunicorn execs in place
    of the CLI, so the process group is the master and its workers)."""

    def __init__(self, name: str, env: dict, logs: str, workers: int):
        self.name, self.port, self.logs, self.workers = name, free_port(), logs, workers
        metrics = os.path.join(logs, f"{name}-metrics")
        self.env = dict(env, PROMETHEUS_MULTIPROC_DIR=metrics)
        self.group: Group | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [os.path.join(VENV_BIN, "mallow"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--server", "gunicorn", "--workers", str(self.workers)]
        os.makedirs(self.env["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        self.group = Group(self.name, command, self.env, self.logs)

    def wait_ready(self, seconds: float = 120) -> float:
        assert self.group is not None
        return wait_for(f"http://{self.address}/readyz", seconds, self.group)


def start_worker(name: str, env: dict, logs: str) -> Group:
    return Group(name, [os.path.join(VENV_BIN, "mallow"), "worker"], env, logs)


# --- the proxy ----------------------------------------------------------------------------------

NGINX_CONF = """
worker_processes 1;
error_log {work}/nginx-error.log warn;
pid {work}/nginx.pid;
events {{ worker_connections 2048; }}
http {{
    log_format cluster '$msec $status $request_method "$request_uri" up=$upstream_addr '
                       'upstatus=$upstream_status t=$request_time';
    access_log {work}/nginx-access.log cluster buffer=64k flush=1s;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    client_max_body_size 13m;

    upstream mallow {{
        server {a} max_fails=1 fail_timeout=3s;
        server {b} max_fails=1 fail_timeout=3s;
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mallow;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
            # a node that refuses the connection (down) is skipped for any request; a request
            # already sent is sent again only when its method is idempotent (never POST/PATCH:
            # no "non_idempotent" here), so an order is never placed twice by the proxy
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def ensure_nginx() -> str | None:
    """nginx's path: installed with apt-get (nginx-light) when missing and running as root;
    None when it cannot be had."""
    found = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx") or None
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("bench/cluster.py: installing nginx-light with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], env=env, check=False, capture_output=True)
        if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "nginx-light"], env=env, check=False, capture_output=True
            )
    return shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx") or None


class Proxy:
    """The proxy in front of the two nodes: ``kind`` ``nginx`` or ``python`` (bench/cluster_proxy.py)."""

    def __init__(self, kind: str, nodes: list[Node], work: str, nginx: str | None = None):
        self.kind, self.port, self.work, self.nginx = kind, free_port(), work, nginx
        a, b = (node.address for node in nodes)
        if kind == "nginx":
            assert nginx
            conf = os.path.join(work, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(work=work, a=a, b=b, port=self.port))
            command = [nginx, "-p", work, "-c", conf, "-g", "daemon off;"]
        else:
            command = [sys.executable, os.path.join(HERE, "cluster_proxy.py"), "--port", str(self.port), a, b]
        self.group = Group(f"proxy-{kind}", command, dict(os.environ), work)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def description(self) -> str:
        if self.kind == "nginx":
            done = subprocess.run([self.nginx or "nginx", "-v"], capture_output=True, text=True, check=False)
            version = (done.stderr or done.stdout).strip().split("/")[-1] or "?"
            return f"nginx {version} (upstream of the two nodes, proxy_next_upstream error timeout, keepalive 32)"
        return "bench/cluster_proxy.py (asyncio; nginx could not be installed)"
