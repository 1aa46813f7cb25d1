#!/usr/bin/env python3
"""The Markdown table of bench/http.sh, from its raw rows (standard library only).

    summarize.py RUN.csv "what was run"

Per pair (baseline, keygate server) and scenario: the median req/s and server CPU time per request
of each server over all its runs, and the keygate/baseline ratios. A ratio is taken per A B B A
block (the two keygate runs over the two baseline runs, which cancels a drift of the machine that
is linear over the block); the table shows the median of the blocks' ratios and their range.
"""

import csv
import statistics
import sys
from collections import defaultdict

SCENARIOS = {
    "valid": "valid key",
    "malformed": "malformed-key flood",
    "unknown": "unknown-key flood",
    "missing": "missing key",
}
BASELINES = ["axum-bare", "towerhttp", "handrolled"]
CONTENDERS = {
    "keygate": "`keygate` (bench/keygate-server, `GET /secure`)",
    "example": "`example` (the example service, `GET /items`)",
}


def cpu_us(row):
    """User+system CPU time of the server process per answered request, in microseconds."""
    return 1e6 * int(row["cpu_ticks"]) / int(row["clk_tck"]) / int(row["requests"])


def ratio_text(ratios):
    mid = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{mid:.3f}×"
    return f"{mid:.3f}× ({min(ratios):.3f}–{max(ratios):.3f})"


def main(path, what):
    rows = list(csv.DictReader(open(path, newline="")))
    if not rows:
        raise SystemExit(f"{path}: no rows")
    # (contender, baseline, scenario) -> block -> role -> [rows]
    runs = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in rows:
        baseline, contender = r["pair"].split(":")
        runs[(contender, baseline, r["scenario"])][r["block"]][r["role"]].append(r)

    print(f"HTTP: {what}.")
    print("Medians of each server's runs; ratios keygate/baseline, median of the blocks' ratios")
    print("(range). CPU/req: the server process's user+system CPU time per answered request.")
    warnings = []
    for contender, title in CONTENDERS.items():
        keys = [k for k in runs if k[0] == contender]
        if not keys:
            continue
        print()
        print(f"{title} against each baseline:")
        print()
        print("| scenario | baseline | baseline req/s | keygate req/s | req/s ratio "
              "| baseline CPU/req | keygate CPU/req | CPU ratio |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        order = {s: i for i, s in enumerate(SCENARIOS)}
        for key in sorted(keys, key=lambda k: (order.get(k[2], 99), BASELINES.index(k[1]))):
            _, baseline, scenario = key
            base_rps, kg_rps, base_cpu, kg_cpu, rps_ratios, cpu_ratios = [], [], [], [], [], []
            for block, roles in sorted(runs[key].items()):
                b, k = roles["baseline"], roles["keygate"]
                if not b or not k:
                    continue
                b_rps = [float(r["req_per_s"]) for r in b]
                k_rps = [float(r["req_per_s"]) for r in k]
                b_cpu = [cpu_us(r) for r in b]
                k_cpu = [cpu_us(r) for r in k]
                base_rps += b_rps
                kg_rps += k_rps
                base_cpu += b_cpu
                kg_cpu += k_cpu
                rps_ratios.append(sum(k_rps) / len(k_rps) / (sum(b_rps) / len(b_rps)))
                cpu_ratios.append(sum(k_cpu) / len(k_cpu) / (sum(b_cpu) / len(b_cpu)))
            if not rps_ratios:
                continue
            print(f"| {SCENARIOS.get(scenario, scenario)} | `{baseline}` "
                  f"| {statistics.median(base_rps):,.0f} | {statistics.median(kg_rps):,.0f} "
                  f"| {ratio_text(rps_ratios)} "
                  f"| {statistics.median(base_cpu):.2f} µs | {statistics.median(kg_cpu):.2f} µs "
                  f"| {ratio_text(cpu_ratios)} |")
    for r in rows:
        name = f'{r["server"]} {r["scenario"]} (pair {r["pair"]}, block {r["block"]})'
        if int(r["socket_errors"]):
            warnings.append(f'{name}: {r["socket_errors"]} socket errors')
        steal = max(float(r["server_core_steal_pct"]), float(r["client_core_steal_pct"]))
        if steal > 2:
            warnings.append(f"{name}: {steal:.1f}% of a core stolen by the VM's host")
        if float(r["client_core_busy_pct"]) > 95 and float(r["server_core_busy_pct"]) < 90:
            warnings.append(f"{name}: wrk's core saturated, the server's not: req/s is wrk's "
                            "limit here; compare CPU per request")
    if warnings:
        print()
        print("Warnings:")
        for w in warnings:
            print(f"- {w}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
