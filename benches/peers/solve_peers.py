"""Solves the batch problems written by `examples/export_batches.rs` with
OR-Tools CP-SAT and with CBC (through PuLP) under the same time limit as our
solver, and prints their times and objectives beside ours, with ratios.

Every solver gets the same model: the aggregated bin model of
docs/formulation.md (tasks counted per shape, bins per candidate in a fixed
order, dominated offerings dropped, bin slots bounded by the greedy plan's
cost), and the greedy plan as a warm start, which is what our HiGHS model
gets. Times are wall times around model building plus solving, as ours is
measured around the whole solve call.

usage: solve_peers.py BATCHES.json RESULTS.json
"""

import json
import math
import os
import re
import sys
import tempfile
import time

import pulp
from ortools.sat.python import cp_model

DIMS = ("millicpus", "memory_mib", "gpus")
# Prices enter CP-SAT as integers in micro-USD per hour.
SCALE = 1_000_000
REL_GAP = 1e-4


def dominated_pruned(cands):
    """Candidates no cheaper-or-equal one of the same arch beats in every dimension."""
    order = sorted(range(len(cands)), key=lambda i: (cands[i]["usd_per_hour"], cands[i]["offering"]))
    kept = []
    for i in order:
        c = cands[i]
        beaten = any(
            k["arch"] == c["arch"]
            and all(c[d] <= k[d] for d in DIMS)
            and k["usd_per_hour"] <= c["usd_per_hour"]
            for k in (cands[j] for j in kept)
        )
        if not beaten:
            kept.append(i)
    return kept


def how_many(shape, cand, limit):
    n = limit
    for d in DIMS:
        if shape[d] > 0:
            n = min(n, cand[d] // shape[d])
    return n


def build_kinds(batch):
    """Bin kinds (candidate, slots, fitting shapes with caps), as our reduction does."""
    shapes, cands = batch["shapes"], batch["candidates"]
    greedy_cost = batch["greedy"]["usd_per_hour"]
    greedy_count = {}
    for b in batch["greedy"]["bins"]:
        greedy_count[b["candidate"]] = greedy_count.get(b["candidate"], 0) + 1
    kinds = []
    for ci in dominated_pruned(cands):
        c = cands[ci]
        fits = [(s, how_many(sh, c, sh["count"])) for s, sh in enumerate(shapes)]
        fits = [(s, u) for s, u in fits if u > 0]
        if not fits:
            continue
        holdable = sum(shapes[s]["count"] for s, _ in fits)
        by_cost = math.floor(greedy_cost / c["usd_per_hour"] + 1e-9)
        load = sum(
            shapes[s]["count"] * sum(shapes[s][d] / c[d] for d in DIMS if c[d] > 0) for s, _ in fits
        )
        slots = min(holdable, by_cost, math.floor(2 * load) + 1)
        slots = max(slots, greedy_count.get(ci, 0))
        if slots > 0:
            kinds.append({"candidate": ci, "slots": slots, "fits": fits})
    return kinds


def weight(shape):
    return shape["millicpus"] + shape["memory_mib"] + 1000 * shape["gpus"]


def greedy_start(batch, kinds):
    """The greedy bins placed on slots: per kind, fullest first."""
    shapes = batch["shapes"]
    start = {}
    for ki, kind in enumerate(kinds):
        bins = [dict((s, n) for s, n in b["counts"]) for b in batch["greedy"]["bins"] if b["candidate"] == kind["candidate"]]
        bins.sort(key=lambda b: -sum(weight(shapes[s]) * n for s, n in b.items()))
        for k, b in enumerate(bins):
            start[(ki, k)] = b
    return start


def plan_cost(batch, kinds, opened):
    return sum(batch["candidates"][kinds[ki]["candidate"]]["usd_per_hour"] for ki, _ in opened)


def solve_cpsat(batch, kinds, limit_s, workers):
    t0 = time.perf_counter()
    shapes, cands = batch["shapes"], batch["candidates"]
    m = cp_model.CpModel()
    y, x = {}, {}
    placed = [[] for _ in shapes]
    for ki, kind in enumerate(kinds):
        c = cands[kind["candidate"]]
        for k in range(kind["slots"]):
            y[ki, k] = m.NewBoolVar(f"y{ki}_{k}")
            for s, u in kind["fits"]:
                x[ki, k, s] = m.NewIntVar(0, u, f"x{ki}_{k}_{s}")
                placed[s].append(x[ki, k, s])
                m.Add(x[ki, k, s] <= u * y[ki, k])
            for d in DIMS:
                terms = [shapes[s][d] * x[ki, k, s] for s, _ in kind["fits"] if shapes[s][d] > 0]
                if terms:
                    m.Add(sum(terms) <= c[d] * y[ki, k])
            if k > 0:
                m.Add(y[ki, k - 1] >= y[ki, k])
                m.Add(
                    sum(weight(shapes[s]) * x[ki, k - 1, s] for s, _ in kind["fits"])
                    >= sum(weight(shapes[s]) * x[ki, k, s] for s, _ in kind["fits"])
                )
    for s, sh in enumerate(shapes):
        m.Add(sum(placed[s]) == sh["count"])
    m.Minimize(
        sum(round(cands[kinds[ki]["candidate"]]["usd_per_hour"] * SCALE) * v for (ki, _), v in y.items())
    )
    start = greedy_start(batch, kinds)
    for (ki, k), v in y.items():
        b = start.get((ki, k))
        m.AddHint(v, 1 if b else 0)
        for s, _ in kinds[ki]["fits"]:
            m.AddHint(x[ki, k, s], (b or {}).get(s, 0))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit_s
    solver.parameters.num_workers = workers
    solver.parameters.relative_gap_limit = REL_GAP
    status = solver.Solve(m)
    wall = time.perf_counter() - t0
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {"wall_s": wall, "status": solver.StatusName(status), "usd_per_hour": None}
    opened = [key for key, v in y.items() if solver.Value(v)]
    cost = plan_cost(batch, kinds, opened)
    bound = solver.BestObjectiveBound() / SCALE
    return {
        "wall_s": wall,
        "status": solver.StatusName(status).lower(),
        "usd_per_hour": cost,
        "bound_usd_per_hour": bound,
        "relative_gap": max(cost - bound, 0.0) / cost if cost > 0 else 0.0,
    }


def solve_cbc(batch, kinds, limit_s):
    t0 = time.perf_counter()
    shapes, cands = batch["shapes"], batch["candidates"]
    m = pulp.LpProblem("batch", pulp.LpMinimize)
    y, x = {}, {}
    placed = [[] for _ in shapes]
    start = greedy_start(batch, kinds)
    for ki, kind in enumerate(kinds):
        c = cands[kind["candidate"]]
        for k in range(kind["slots"]):
            y[ki, k] = pulp.LpVariable(f"y{ki}_{k}", cat="Binary")
            b = start.get((ki, k))
            y[ki, k].setInitialValue(1 if b else 0)
            for s, u in kind["fits"]:
                x[ki, k, s] = pulp.LpVariable(f"x{ki}_{k}_{s}", 0, u, cat="Integer")
                x[ki, k, s].setInitialValue((b or {}).get(s, 0))
                placed[s].append(x[ki, k, s])
                m += x[ki, k, s] <= u * y[ki, k]
            for d in DIMS:
                terms = [shapes[s][d] * x[ki, k, s] for s, _ in kind["fits"] if shapes[s][d] > 0]
                if terms:
                    m += pulp.lpSum(terms) <= c[d] * y[ki, k]
            if k > 0:
                m += y[ki, k - 1] >= y[ki, k]
                m += pulp.lpSum(weight(shapes[s]) * x[ki, k - 1, s] for s, _ in kind["fits"]) >= pulp.lpSum(
                    weight(shapes[s]) * x[ki, k, s] for s, _ in kind["fits"]
                )
    for s, sh in enumerate(shapes):
        m += pulp.lpSum(placed[s]) == sh["count"]
    m += pulp.lpSum(cands[kinds[ki]["candidate"]]["usd_per_hour"] * v for (ki, _), v in y.items())
    remaining = limit_s
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "cbc.log")
        solver = pulp.PULP_CBC_CMD(
            msg=False, timeLimit=remaining, gapRel=REL_GAP, warmStart=True, threads=1, logPath=log
        )
        try:
            m.solve(solver)
        except pulp.PulpSolverError as error:
            return {"wall_s": time.perf_counter() - t0, "status": f"error: {error}", "usd_per_hour": None}
        wall = time.perf_counter() - t0
        text = open(log).read() if os.path.exists(log) else ""
    opened = [key for key, v in y.items() if (v.value() or 0) > 0.5]
    feasible = m.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    cost = plan_cost(batch, kinds, opened) if feasible else None
    status = {pulp.LpSolutionOptimal: "optimal", pulp.LpSolutionIntegerFeasible: "feasible"}.get(
        m.sol_status, pulp.LpStatus[m.status].lower()
    )
    result = {"wall_s": wall, "status": status, "usd_per_hour": cost}
    bound = re.search(r"^Lower bound:\s+([-0-9.eE+]+)", text, re.M)
    if cost and bound:
        result["bound_usd_per_hour"] = float(bound.group(1))
        result["relative_gap"] = max(cost - float(bound.group(1)), 0.0) / cost
    elif cost and status == "optimal":
        result["bound_usd_per_hour"] = cost
        result["relative_gap"] = 0.0
    return result


def main():
    batches_path, results_path = sys.argv[1], sys.argv[2]
    doc = json.load(open(batches_path))
    limit_s = doc["time_limit_s"]
    rows = []
    print(f"time limit {limit_s} s per solve; wall times include building the model")
    print(f"{'tasks':>6} {'solver':<24} {'wall s':>8} {'USD/h':>10} {'gap':>8} {'time x ours':>11} {'cost x ours':>11}  status")
    for batch in doc["batches"]:
        kinds = build_kinds(batch)
        ours = batch["ours"]
        results = [("ours: HiGHS (milp)", ours)]
        results.append(("CP-SAT, 1 worker", solve_cpsat(batch, kinds, limit_s, 1)))
        results.append(("CP-SAT, 2 workers", solve_cpsat(batch, kinds, limit_s, 2)))
        results.append(("CBC via PuLP, 1 thread", solve_cbc(batch, kinds, limit_s)))
        for name, r in results:
            cost = r.get("usd_per_hour")
            time_ratio = r["wall_s"] / ours["wall_s"]
            cost_ratio = cost / ours["usd_per_hour"] if cost else float("nan")
            gap = r.get("relative_gap")
            gap_s = f"{100 * gap:.3f}%" if gap is not None else "n/a"
            cost_s = f"{cost:.4f}" if cost else "none"
            print(
                f"{batch['tasks']:>6} {name:<24} {r['wall_s']:>8.3f} {cost_s:>10} {gap_s:>8} "
                f"{time_ratio:>11.2f} {cost_ratio:>11.4f}  {r.get('status')}"
            )
            rows.append({"tasks": batch["tasks"], "solver": name, **r,
                         "time_ratio_to_ours": time_ratio, "cost_ratio_to_ours": cost_ratio})
    json.dump({"time_limit_s": limit_s, "results": rows}, open(results_path, "w"), indent=1)
    print(f"results written to {results_path}")


if __name__ == "__main__":
    main()
