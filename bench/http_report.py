"""The tables bench/http.py prints: every measured path, then the performance brief's targets
table with the ratio measured for each (✓/✗), and the rows as JSON (``--json FILE``)."""

from __future__ import annotations

import json
import math

from http_scenarios import TARGETS

#: the brief's targets table (shared/briefs/performance.md): scenario, target, the rows' keys
#: that measure it here, or where else it is measured
BRIEF = [
    ("storefront home, cache cold", "≥ 0.75 × A-dbpage", ["cold"]),
    ("storefront home and product page, cache warm", "≥ 1.0 × A-page", ["home", "product"]),
    ("add to cart (one write)", "≥ 0.6 × A-dbjson", ["cart"]),
    ("order placement on PostgreSQL", "≥ 0.5 × A-flash-pg", ["order"]),
    ("flash sale, buy attempts while stock lasts", "≥ 0.85 × A-flash-redis; exactly N sold", ["flash"]),
    ("flash sale, sold-out path", "≥ 0.8 × A-hello", ["soldout"]),
    ("same page at 10,000 stores vs 100 stores", "≥ 0.95 ×", ["stores"]),
    ("store provisioning", "≤ 2 × raw DDL per store", "bench/tenants.py"),
    ("migrate every store schema", "1,000 ≤ 60 s, 10,000 ≤ 10 min", "bench/tenants.py"),
    ("PostgreSQL backend memory after 10,000 stores", "≤ 1 GiB", "bench/tenants.py"),
    ("10 enabled plugins vs none, same page", "≥ 0.98 ×", ["plugins"]),
    ("jobs: enqueue inside a request", "≤ 1 ms median", "bench/plugin_calls.py and the jobs tests (not over HTTP)"),
]


def verdict(r: dict, backend: str) -> str:
    """✓ or ✗ against the row's target; ``—`` without one (or on a backend the target is not for)."""
    if r.get("sold_ok") is False:
        return "✗"
    if not r.get("key") or math.isnan(r["ratio"]):
        return "—"
    if r["key"] == "order" and backend != "postgresql":
        return "— (PostgreSQL target)"
    ok = r["ratio"] >= TARGETS[r["key"]][0] and r.get("sold_ok", True) and not r["bad"]
    return "✓" if ok else "✗"


def print_rows(rows: list[dict], title: str, backend: str) -> None:
    print(f"\n{title}\n")
    print("| path | Mallow req/s | p50 ms | p99 ms | baseline | baseline req/s | baseline p99 ms | ratio | target | |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        bad = f" ({r['bad']} wrong answers!)" if r["bad"] else ""
        target = TARGETS[r["key"]][1] if r.get("key") else "—"
        note = f" — {r['note']}" if r.get("note") else ""
        rounds = " (rounds " + " / ".join(f"{x:.2f}" for x in r["ratios"]) + ")" if r.get("ratios") else ""
        print(
            f"| {r['name']} `{r['path']}`{note} | {r['rps']:,.0f}{bad} | {r['p50']:.1f} | {r['p99']:.1f} "
            f"| {r['baseline']} | {r['base_rps']:,.0f} | {r['base_p99']:.1f} | {r['ratio']:.2f}×{rounds} | {target} "
            f"| {verdict(r, backend)} |"
        )


def print_brief(rows: list[dict], backend: str) -> None:
    print("\nThe brief's targets (shared/briefs/performance.md)\n")
    print("| scenario | target | measured | |")
    print("|---|---|---|---|")
    by_key = {r["key"]: r for r in rows if r.get("key")}
    for scenario, target, keys in BRIEF:
        if isinstance(keys, str):
            print(f"| {scenario} | {target} | measured by {keys} | |")
            continue
        found = [by_key[k] for k in keys if k in by_key]
        if not found:
            print(f"| {scenario} | {target} | not measured in this run | |")
            continue
        measured = ", ".join(f"{r['name']}: {r['ratio']:.2f}×" for r in found)
        marks = {verdict(r, backend) for r in found}
        mark = "✗" if "✗" in marks else ("✓" if marks == {"✓"} else " ".join(sorted(marks)))
        print(f"| {scenario} | {target} | {measured} | {mark} |")


def save(path: str, rows: list[dict], meta: dict) -> None:
    def clean(value):
        return None if isinstance(value, float) and math.isnan(value) else value

    with open(path, "w") as f:
        json.dump(
            {**meta, "rows": [{k: clean(v) for k, v in r.items()} for r in rows]}, f, ensure_ascii=False, indent=1
        )
