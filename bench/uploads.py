#!/usr/bin/env python
"""Upload memory bench: the RSS high-water mark of one image upload (1, 10 and 40 Mpx PNG, JPEG,
progressive JPEG and WebP: small files that decompress large) and of 8 uploads at once, and the
RSS that stays afterwards, each beside a bare Pillow decode of the same file (ratio).

Every case runs in a fresh subprocess so that one case's heap cannot hide or inflate another's:
the child builds the app (SQLite scratch data dir, an approved store, a merchant token), uploads a
small image once to warm up (imports, first allocations), then resets the kernel's RSS high-water
mark (``/proc/self/clear_refs`` ← 5; ``ru_maxrss`` where that is not allowed) and uploads through
the real route, ``POST /s/<slug>/api/console/media`` (Flask test client; threads with a barrier
for the concurrent case). It reports

* ``peak``: VmHWM minus the RSS just before the upload: what processing the upload cost;
* ``kept``: the RSS after the upload (``gc.collect()``, 0.3 s) minus the RSS before it;
* ``bare``: the same high-water measurement around ``Image.open(file).load()`` alone (the
  decoded bitmap Pillow needs at full size, no Mallow code): ``peak/bare`` is the ratio.

Images are written once to a scratch folder before any child starts. Loops are bounded; nothing
leaves the machine.

    .venv/bin/python bench/uploads.py                 # every case (~3 min)
    .venv/bin/python bench/uploads.py --only png      # cases whose name contains "png"
    .venv/bin/python bench/uploads.py --no-bare       # skip the bare Pillow baselines
    .venv/bin/python bench/uploads.py --backend postgresql   # the store on PostgreSQL (127.0.0.1)

On SQLite, concurrent uploads to one store can answer 500 "database is locked": the request's
read transaction (opened by the staff check) cannot become a write once another upload has
committed (WAL snapshot). The answers column shows it; PostgreSQL has no such limit.
"""

from __future__ import annotations

import common  # noqa: F401 -- first: moves bench/ to the end of sys.path (its http.py would hide the stdlib's)

import argparse
import gc
import io
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name → (format, width, height, options): 1, 10 and 40 Mpx (7303 × 5476 = 39.99 Mpx, the
# issue's PNG), and the largest a 20 Mpx limit lets in: a PNG whose longer side is just under
# twice 2560 px (no whole-factor reduction: the dearest shape), a 20 Mpx camera JPEG, and a WebP
# at a quarter of the limit
IMAGES = {
    "png-1mpx": ("PNG", 1155, 866, {}),
    "png-10mpx": ("PNG", 3651, 2739, {}),
    "png-20mpx": ("PNG", 5100, 3920, {}),
    "png-40mpx": ("PNG", 7303, 5476, {}),
    "jpeg-1mpx": ("JPEG", 1155, 866, {"quality": 85}),
    "jpeg-10mpx": ("JPEG", 3651, 2739, {"quality": 85}),
    "jpeg-20mpx": ("JPEG", 5472, 3648, {"quality": 85}),
    "jpeg-40mpx": ("JPEG", 7303, 5476, {"quality": 85}),
    "jpeg-progressive-20mpx": ("JPEG", 5472, 3648, {"quality": 85, "progressive": True}),
    "jpeg-progressive-40mpx": ("JPEG", 7303, 5476, {"quality": 85, "progressive": True}),
    "webp-5mpx": ("WEBP", 2738, 1826, {"quality": 80}),
    "webp-10mpx": ("WEBP", 3651, 2739, {"quality": 80}),
    "webp-40mpx": ("WEBP", 7303, 5476, {"quality": 80}),
}
# case → (image, how many uploads at once)
CASES = {name: (name, 1) for name in IMAGES}
CASES.update({f"8x {name}": (name, 8) for name in ("png-40mpx", "png-20mpx", "jpeg-20mpx", "jpeg-10mpx")})

MB = 1024 * 1024


def make_image(path: Path, kind: str, width: int, height: int, options: dict) -> None:
    """A mostly flat picture with a few shapes: a tiny file that decodes to width × height pixels."""
    from PIL import Image, ImageDraw

    with Image.new("RGB", (width, height), "#f4efe6") as image:
        draw = ImageDraw.Draw(image)
        for i in range(8):
            x, y = width * i // 9, height * i // 11
            draw.rectangle((x, y, x + width // 6, y + height // 7), fill=(200 - 20 * i, 60 + 15 * i, 90))
        draw.ellipse((width // 3, height // 3, width * 2 // 3, height * 2 // 3), fill="#c33")
        image.save(path, kind, **options)


# --- measuring in the child ----------------------------------------------------------------


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss() -> int:
    return _status_kb("VmRSS") * 1024


def reset_peak() -> str:
    """Reset the kernel's RSS high-water mark; say how the peak will be read."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM"
    except OSError:
        return "ru_maxrss"  # since process start: an upper bound that includes the setup


def peak(how: str) -> int:
    if how == "VmHWM":
        return _status_kb("VmHWM") * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def settle() -> int:
    gc.collect()
    time.sleep(0.3)
    return rss()


def child_bare(path: str) -> dict:
    from PIL import Image

    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as warm:  # imports, the plugin registry (the header only)
        warm.size  # noqa: B018  (reading the header is the warm-up)
    before = settle()
    how = reset_peak()
    started = time.perf_counter()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
    elapsed = time.perf_counter() - started
    high = peak(how)
    after = settle()
    return {"peak": high - before, "kept": after - before, "seconds": elapsed, "how": how, "statuses": {}}


def child_mallow(path: str, concurrency: int, backend: str) -> dict:
    from common import drop_scratch, mallow_config

    config, scratch = mallow_config(backend, "uploads")
    app = None
    from mallow.app import create_app
    from mallow.db import db
    from mallow.db.migrate import upgrade_platform
    from mallow.qualifications.matrix import seed_defaults
    from mallow.testing import bearer, make_admin, make_store, merchant_token, png_bytes

    try:
        app = create_app(config)
        with app.app_context():
            upgrade_platform(db.engine)
            seed_defaults()
        make_admin(app)
        shop = make_store(app)
        headers = bearer(merchant_token(app.test_client(), shop))
        route = f"{shop.prefix}/api/console/media"
        data = Path(path).read_bytes()
        name = Path(path).name

        def upload(client, payload: bytes, filename: str) -> int:
            response = client.post(
                route,
                headers=headers,
                content_type="multipart/form-data",
                data={"image": (io.BytesIO(payload), filename)},
            )
            status = response.status_code
            response.close()
            return status

        warm = upload(app.test_client(), png_bytes((640, 480)), "warm.png")
        if warm != 201:
            raise SystemExit(f"warm-up upload answered {warm}")
        clients = [app.test_client() for _ in range(concurrency)]
        statuses: list[int] = []
        before = settle()
        how = reset_peak()
        started = time.perf_counter()
        if concurrency == 1:
            statuses.append(upload(clients[0], data, name))
        else:
            barrier = threading.Barrier(concurrency)
            lock = threading.Lock()

            def worker(client):
                barrier.wait(timeout=60)
                try:
                    status = upload(client, data, name)
                except Exception as exc:  # TESTING propagates it; a server would answer 500
                    print(f"upload failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
                    status = 500
                with lock:
                    statuses.append(status)

            threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=600)
        elapsed = time.perf_counter() - started
        high = peak(how)
        after = settle()
        counted: dict[str, int] = {}
        for status in statuses:
            counted[str(status)] = counted.get(str(status), 0) + 1
        return {
            "peak": high - before,
            "kept": after - before,
            "seconds": elapsed,
            "how": how,
            "statuses": counted,
            "rss_before": before,
        }
    finally:
        drop_scratch(app, scratch)
        shutil.rmtree(config["MALLOW_DATA_DIR"], ignore_errors=True)


def run_child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=str(HERE.parent),
    )
    if done.returncode != 0:
        raise SystemExit(f"child {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where the store lives (PostgreSQL: a scratch database per case, dropped after)",
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Pillow baselines")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "PATH", "N", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, path, n, backend = args.child
        result = child_bare(path) if kind == "bare" else child_mallow(path, int(n), backend)
        print(json.dumps(result))
        return

    cases = {name: case for name, case in CASES.items() if args.only in name}
    if not cases:
        raise SystemExit(f"no case matches {args.only!r}: {', '.join(CASES)}")
    scratch = Path(tempfile.mkdtemp(prefix="mallow-bench-uploads-"))
    try:
        paths = {}
        for image in sorted({image for image, _n in cases.values()}):
            kind, width, height, options = IMAGES[image]
            paths[image] = scratch / f"{image}.{kind.lower()}"
            make_image(paths[image], kind, width, height, options)
        print(
            f"{'case':<26} {'file':>8} {'Mpx':>6} {'answers':<14} {'peak MB':>8} {'kept MB':>8} "
            f"{'bare MB':>8} {'peak/bare':>9} {'B/px':>6} {'s':>6}"
        )
        bare_cache: dict[str, dict] = {}
        for name, (image, n) in cases.items():
            _kind, width, height, _options = IMAGES[image]
            mpx = width * height / 1e6
            result = run_child("--child", "mallow", str(paths[image]), str(n), args.backend)
            if not args.no_bare and image not in bare_cache:
                bare_cache[image] = run_child("--child", "bare", str(paths[image]), "1", args.backend)
            bare = bare_cache.get(image)
            answers = " ".join(f"{count}×{status}" for status, count in sorted(result["statuses"].items()))
            ratio = f"{result['peak'] / bare['peak']:9.2f}" if bare and bare["peak"] > 0 else f"{'-':>9}"
            bare_mb = f"{bare['peak'] / MB:8.0f}" if bare else f"{'-':>8}"
            print(
                f"{name:<26} {paths[image].stat().st_size / 1024:7.0f}K {mpx:6.2f} {answers:<14} "
                f"{result['peak'] / MB:8.0f} {result['kept'] / MB:8.0f} {bare_mb} {ratio} "
                f"{result['peak'] / (width * height * n):6.2f} {result['seconds']:6.2f}",
                flush=True,
            )
        print(
            f"peak = RSS high-water mark above the RSS just before the upload(s) ({result['how']}); "
            "kept = RSS after minus before; bare = Image.open(file).load() alone; B/px = peak bytes per "
            "uploaded pixel"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
