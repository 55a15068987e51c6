"""The wrk Lua scripts of bench/http.py, written into the run's temporary folder.

Every script that sends more than one fixed request keeps per-thread counts (HTTP status, and the
``error`` codes of refusals the bench cares about) and prints them from ``done()`` as one line
``BENCH-STATS {json}``: :func:`stats_of` reads it back. The flash-sale buyers' script also times
the sale with the monotonic clock (LuaJIT's ffi ``clock_gettime``): attempts until the first
``sold_out`` answer over the seconds since its first request, the rate while stock lasted, and it
prints ``BENCH-SOLDOUT`` (flushed) at that moment so the bench can stop wrk there.
"""

from __future__ import annotations

import json
import os
import uuid

_REPORT = """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local total, window, before, seen = {}, 0, 0, 0
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts") or {}) do total[key] = (total[key] or 0) + n end
    window = math.max(window, thread:get("window") or 0)
    before = before + (thread:get("before") or 0)
  end
  local parts = {}
  for key, n in pairs(total) do table.insert(parts, string.format("%q:%d", key, n)) end
  io.write(string.format('BENCH-STATS {"counts":{%s},"window":%.6f,"before":%d}\\n',
    table.concat(parts, ","), window, before))
end
counts, window, before = {}, 0, 0
local function count(key) counts[key] = (counts[key] or 0) + 1 end
"""

_CLOCK = """
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
           int clock_gettime(int, bench_timespec *); ]]
local ts = ffi.new("bench_timespec")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9 end
"""


def _lua(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)  # a JSON string is a valid Lua string literal here


def _write(folder: str, name: str, text: str) -> str:
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def fixed(folder: str, name: str, method: str, body: dict | None = None, token: str | None = None) -> str:
    """The same request every time (e.g. the cart line set to 1: one write, repeatable)."""
    lines = [f"wrk.method = {_lua(method)}", 'wrk.headers["Content-Type"] = "application/json"']
    if body is not None:
        lines.append(f"wrk.body = {_lua(json.dumps(body))}")
    if token:
        lines.append(f'wrk.headers["Authorization"] = {_lua("Bearer " + token)}')
    return _write(folder, name, "\n".join(lines) + "\n")


def orders(folder: str, path: str, token: str, body: dict) -> str:
    """``POST`` an order with the same lines each time, each with an Idempotency-Key never sent
    before (so every request places a new order, also in the next wrk run of the same script);
    counts the answers' statuses."""
    run = uuid.uuid4().hex[:12]
    return _write(
        folder,
        "orders.lua",
        _REPORT
        + _CLOCK
        + f"""
local body, path, n = {_lua(json.dumps(body))}, {_lua(path)}, 0
local run = string.format("%s-%.0f", {_lua(run)}, now() * 1e6)  -- a new series of keys per wrk run
local headers = {{["Content-Type"] = "application/json", ["Authorization"] = {_lua("Bearer " + token)}}}
request = function()
  n = n + 1
  headers["Idempotency-Key"] = string.format("%s-%d", run, n)
  return wrk.format("POST", path, headers, body)
end
response = function(status, headers, body) count(tostring(status)) end
""",
    )


def buyers(folder: str, path: str, shoppers: list[tuple[str, dict]]) -> str:
    """Flash-sale buy attempts, the shoppers' tokens taken round-robin (``shoppers``: token and
    JSON body each). Counts statuses and the codes ``sold_out``/``pending_order``/``limit_reached``/
    ``rate_limited``; times the window until the first ``sold_out``."""
    rows = ",\n".join(f"{{{_lua('Bearer ' + token)}, {_lua(json.dumps(body))}}}" for token, body in shoppers)
    return _write(
        folder,
        "buyers.lua",
        _REPORT
        + _CLOCK
        + f"""
local shoppers = {{
{rows}
}}
local path, next_one, started, attempts, sold_out = {_lua(path)}, 0, nil, 0, false
local headers = {{["Content-Type"] = "application/json"}}
request = function()
  if not started then started = now() end
  next_one = next_one % #shoppers + 1
  headers["Authorization"] = shoppers[next_one][1]
  return wrk.format("POST", path, headers, shoppers[next_one][2])
end
local codes = {{"sold_out", "pending_order", "limit_reached", "rate_limited", "not_enough"}}
response = function(status, headers, body)
  count(tostring(status))
  attempts = attempts + 1
  if status >= 400 then
    for _, code in ipairs(codes) do
      if string.find(body, '"' .. code .. '"', 1, true) then count(code) break end
    end
  end
  if not sold_out and status == 409 and string.find(body, '"sold_out"', 1, true) then
    sold_out, window, before = true, now() - started, attempts
    io.write("BENCH-SOLDOUT\\n")
    io.flush()
  end
end
""",
    )


def random_paths(folder: str, name: str, paths: list[str]) -> str:
    """A ``GET`` of a path picked at random per request (a random store per request)."""
    rows = ",\n".join(_lua(p) for p in paths)
    return _write(
        folder,
        name,
        _REPORT
        + f"""
local paths = {{
{rows}
}}
math.randomseed(os.time())
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
response = function(status, headers, body) count(tostring(status)) end
""",
    )


def new_buyers(folder: str) -> str:
    """A-flash-redis: ``POST {"buyer": n}``, a buyer never seen before on every request."""
    return _write(
        folder,
        "flash-redis.lua",
        f"""
local n = {uuid.uuid4().int % 1_000_000_000}
local headers = {{["Content-Type"] = "application/json"}}
request = function()
  n = n + 1
  return wrk.format("POST", nil, headers, string.format('{{"buyer": %d}}', n))
end
""",
    )


def stats_of(output: str) -> dict:
    """The ``BENCH-STATS`` line a script printed (``{}`` for scripts without one)."""
    for line in output.splitlines():
        if line.startswith("BENCH-STATS "):
            return json.loads(line[len("BENCH-STATS ") :])
    return {}
