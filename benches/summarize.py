"""Summarizes criterion's output for docs/benchmarks.md: a markdown table of
medians (with throughput where the bench declares one) and an SVG of greedy
latency against batch size on log-log axes, with an n log n reference line.

usage: python3 benches/summarize.py CRITERION_DIR [SVG_OUT]

CRITERION_DIR is `criterion` under the cargo target directory. Standard
library only.
"""

import json
import math
import os
import sys


def medians(root):
    """(group, function, parameter) -> (median ns, elements or None)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        elements = (meta.get("throughput") or {}).get("Elements")
        key = (meta["group_id"], meta.get("function_id") or "", meta.get("value_str") or "")
        out[key] = (est["median"]["point_estimate"], elements)
    return out


def human(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def table(data):
    print("| bench | case | n | median | per second |")
    print("|---|---|---:|---:|---:|")
    def order(k):
        try:
            return (k[0], k[1], int(k[2]))
        except ValueError:
            return (k[0], k[1], 0)
    for key in sorted(data, key=order):
        ns, elements = data[key]
        rate = f"{elements / (ns / 1e9):,.0f}" if elements else ""
        print(f"| {key[0]} | {key[1]} | {key[2]} | {human(ns)} | {rate} |")


def svg(data, path):
    series = {}
    for (group, function, value), (ns, _) in data.items():
        if group == "greedy_full_catalog":
            series.setdefault(function, []).append((int(value), ns))
    if not series:
        return
    w, h, pad = 560, 360, 60
    xs = [n for pts in series.values() for n, _ in pts]
    ys = [t for pts in series.values() for _, t in pts]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    px = lambda n: pad + (math.log10(n) - x0) / (x1 - x0) * (w - 2 * pad)
    py = lambda t: h - pad - (math.log10(t) - y0) / (y1 - y0) * (h - 2 * pad)
    colors = {"fresh": "#1f77b4", "with_room": "#d62728"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
             f'<rect width="{w}" height="{h}" fill="white"/>']
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        label = human(10 ** e)
        parts.append(f'<line x1="{pad}" x2="{w - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{pad - 5}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for n in sorted(set(xs)):
        x = px(n)
        parts.append(f'<text x="{x:.1f}" y="{h - pad + 15}" text-anchor="middle">{n:,}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 15}" text-anchor="middle">pending tasks (full catalog)</text>')
    parts.append(f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="13">greedy placement, median latency</text>')
    # n log n through the largest fresh point.
    fresh = sorted(series.get("fresh", []))
    if fresh:
        n_max, t_max = fresh[-1]
        ref = [(n, t_max * (n * math.log(n)) / (n_max * math.log(n_max))) for n, _ in fresh if n > 1]
        ref = [(n, t) for n, t in ref if t >= 10 ** y0]
        pts = " ".join(f"{px(n):.1f},{py(t):.1f}" for n, t in ref)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#999" stroke-dasharray="4 3"/>')
    for i, (name, pts) in enumerate(sorted(series.items())):
        pts = sorted(pts)
        color = colors.get(name, "#2ca02c")
        line = " ".join(f"{px(n):.1f},{py(t):.1f}" for n, t in pts)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        for n, t in pts:
            parts.append(f'<circle cx="{px(n):.1f}" cy="{py(t):.1f}" r="3" fill="{color}"/>')
        parts.append(f'<text x="{pad + 10}" y="{pad - 20 + 14 * i}" fill="{color}">{name}</text>')
    parts.append(f'<text x="{pad + 10}" y="{pad - 20 + 14 * len(series)}" fill="#777">n log n, through fresh at the largest n</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
    print(f"\nwrote {path}", file=sys.stderr)


def main():
    data = medians(sys.argv[1])
    table(data)
    if len(sys.argv) > 2:
        svg(data, sys.argv[2])


if __name__ == "__main__":
    main()
