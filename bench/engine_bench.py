"""Benchmark of the charge engine (issue 3): speed alone, then the command line against json load + dump.

    python bench/engine_bench.py                       # the mix of gen-encounters --count 20000 --seed 2025
    python bench/engine_bench.py --count 5000 --seed 7
    python bench/engine_bench.py --input big.json      # an existing engine-io.md input file
    python bench/engine_bench.py --against /tmp/ref/charges/engine   # this engine against another copy

With ``--against DIR`` (a copy of ``charges/engine``, e.g. from ``git worktree add /tmp/ref HEAD``) it prints
only (c): whether both engines give the same ``derive_encounter`` result for every encounter (dict for dict),
then both engines' rates timed alternately in one pinned process (so drift in the machine's load hits both
alike) and their ratio. Meant for speed work, where the output must stay byte-identical.

Prints
(a) encounters per second of the engine alone, pinned to one core: the rules (``derive_parsed``) over
    input already parsed by ``parse_encounter`` (JSON parsing, the parse step and the seed loading are
    outside the timed region; the parsed input is gc.freeze()d as the command line does and each result is
    consumed as it comes), and for comparison ``derive_encounter`` from the JSON dicts;
(b) the wall time of ``python -m charges.engine FILE`` (output to a temporary file) against a
    subprocess doing the standard library's ``json.load`` + ``json.dump`` of the same file, their
    ratio, and both peak memories: ``ru_maxrss`` of each child (os.wait4; the largest single process, as
    ``/usr/bin/time -v`` reports it) and the peak summed Pss of the child's whole process tree (sampled from
    /proc every 20 ms), which also counts helper processes the command line may fork;
then met / not met against the targets of issue 3: at least 15,000 encounters per second; at most
2.0x the time and 1.5x the peak memory of load + dump. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GEN_ENCOUNTERS = PROJECT_ROOT.parent / "shared" / "tools" / "gen-encounters"
TARGET_RATE = 15_000  # encounters per second, engine alone, one core
TARGET_TIME_RATIO = 2.0  # command line / stdlib load+dump, wall time
TARGET_MEMORY_RATIO = 1.5  # command line / stdlib load+dump, peak resident memory

STDLIB_ROUND_TRIP = "import json, sys\nwith open(sys.argv[1]) as f:\n    d = json.load(f)\njson.dump(d, sys.stdout)\n"


def generate(count: int, seed: int, directory: Path) -> Path:
    path = directory / f"encounters-{count}-{seed}.json"
    subprocess.run(  # noqa: S603 - our interpreter and the shared generator, no outside input
        [sys.executable, str(GEN_ENCOUNTERS), "--count", str(count), "--seed", str(seed), "-o", str(path)],
        check=True,
    )
    return path


def pin_to_one_core() -> str:
    try:
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"core {core}"
    except (AttributeError, OSError):
        return "not pinned"


def engine_alone(path: Path, repeat: int) -> dict:
    """Timings of the rules over already parsed input, and of derive_encounter over the JSON-parsed dicts.

    ``derive_parsed`` gets encounters that ``parse_encounter`` already turned into the engine's types
    (the parse step is outside the clock, as issue 3 asks); ``derive_encounter`` is the contract entry
    point, timed from the plain dicts, for comparison. Setup outside the clock, as the command line does:
    the parsed input is moved out of the cyclic collector's reach (``gc.collect(); gc.freeze()``); each
    result is consumed as it comes (errors counted), as a streaming writer would, not kept in a list.
    """
    sys.path.insert(0, str(PROJECT_ROOT))
    from charges.engine.api import derive_encounter, derive_parsed, parse_encounter
    from charges.engine.snapshot import load_seed_book

    book = load_seed_book()
    with open(path, encoding="utf-8") as handle:
        encounters = json.load(handle)["encounters"]
    for encounter in encounters[:50]:  # warm the per-date snapshot cache outside the clock
        derive_encounter(json.loads(json.dumps(encounter)), book)
    rules, full, rules_cpu, full_cpu, errors = [], [], [], [], 0
    for _ in range(repeat):
        parsed = [parse_encounter(encounter)[0] for encounter in json.loads(json.dumps(encounters))]
        errors = sum(1 for encounter in parsed if encounter is None)
        parsed = [encounter for encounter in parsed if encounter is not None]
        gc.collect()
        gc.freeze()
        started, started_cpu = time.perf_counter(), time.process_time()
        for encounter in parsed:
            errors += bool(derive_parsed(encounter, book)["errors"])
        rules.append(time.perf_counter() - started)
        rules_cpu.append(time.process_time() - started_cpu)
        del parsed
        gc.unfreeze()
        copies = json.loads(json.dumps(encounters))  # a fresh parse of the JSON per pass, outside the clock
        gc.collect()
        gc.freeze()
        started, started_cpu = time.perf_counter(), time.process_time()
        for encounter in copies:
            derive_encounter(encounter, book)
        full.append(time.perf_counter() - started)
        full_cpu.append(time.process_time() - started_cpu)
        del copies
        gc.unfreeze()
    return {
        "encounters": len(encounters),
        "rules": rules,
        "full": full,
        "rules_cpu": rules_cpu,
        "full_cpu": full_cpu,
        "errors": errors,
    }


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def _memory_kib(pid: int) -> tuple[int, int]:
    """(Rss, Pss) of one process in KiB from /proc/PID/smaps_rollup; (0, 0) once it is gone."""
    found = {"Rss:": 0, "Pss:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                key = line.split(maxsplit=1)[0]
                if key in found:
                    found[key] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return found["Rss:"], found["Pss:"]


class TreeSampler(threading.Thread):
    """Samples the summed Rss and Pss of a process and its descendants (forked helpers included) every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.done = pid, threading.Event()
        self.peak_rss = self.peak_pss = self.processes = 0

    def run(self) -> None:
        while not self.done.is_set():
            pids, stack = [], [self.pid]
            while stack:
                pid = stack.pop()
                pids.append(pid)
                stack.extend(_children(pid))
            sizes = [_memory_kib(pid) for pid in pids]
            self.peak_rss = max(self.peak_rss, sum(rss for rss, _ in sizes))
            self.peak_pss = max(self.peak_pss, sum(pss for _, pss in sizes))
            self.processes = max(self.processes, sum(1 for rss, _ in sizes if rss))
            self.done.wait(0.02)


def run_child(command: list[str], output: Path) -> dict:
    """Wall and CPU seconds, peak memory and exit status of one fresh child process writing to OUTPUT.

    ``maxrss``: ru_maxrss from os.wait4 (the largest single process of the tree, as /usr/bin/time reports);
    ``tree_pss`` / ``tree_rss``: the peak of the summed Pss / Rss of the process and its live descendants
    (a command that forks helpers holds their memory too; Pss splits shared copy-on-write pages fairly).
    """
    with open(output, "wb") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE, cwd=PROJECT_ROOT)  # noqa: S603
        sampler = TreeSampler(child.pid)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.stderr.write(child.stderr.read().decode(errors="replace")[-2000:])
    child.stderr.close()
    return {
        "wall": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime,
        "maxrss": usage.ru_maxrss,
        "tree_pss": sampler.peak_pss,
        "tree_rss": sampler.peak_rss,
        "processes": sampler.processes,
        "status": child.returncode,
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000, help="encounters to generate (default 20000)")
    parser.add_argument("--seed", type=int, default=2025, help="gen-encounters seed (default 2025)")
    parser.add_argument("--input", type=Path, help="use this input file instead of generating one")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes / runs of each measure (default 3)")
    parser.add_argument("--skip-alone", action="store_true", help="only time the command line")
    parser.add_argument(
        "--against", type=Path, help="a copy of charges/engine: compare outputs and time both alternately (only)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="engine-bench-") as scratch:
        scratch = Path(scratch)
        path = args.input.resolve() if args.input else generate(args.count, args.seed, scratch)
        size = path.stat().st_size
        load = os.getloadavg()[0]
        print(f"input: {path.name} ({size / 1e6:.1f} MB); load average {load:.1f} on {os.cpu_count()} cores")
        if load > (os.cpu_count() or 1) - 0.5:
            print("  warning: the machine is busy; wall times are inflated (CPU times are printed beside them)")

        if args.against:
            return against(path, args.against.resolve(), args.repeat)

        rate = full_rate = None
        if not args.skip_alone:
            # (a) runs in a child so pinning and imports do not touch the timings of (b)
            probe = subprocess.run(  # noqa: S603 - this script again, in a fresh interpreter
                [sys.executable, __file__, "--alone", str(path), str(args.repeat)],
                capture_output=True,
                text=True,
                cwd=PROJECT_ROOT,
            )
            if probe.returncode != 0:
                sys.stderr.write(probe.stderr[-3000:])
                print("(a) engine alone: failed")
            else:
                figures = json.loads(probe.stdout.strip().splitlines()[-1])
                count = figures["encounters"]
                rate = count / min(figures["rules"])
                full_rate = count / min(figures["full"])
                print(
                    f"(a) engine alone ({figures['pinned']}, best of {len(figures['rules'])} passes over "
                    f"{count} encounters, {figures['errors']} with errors); calibration: a 10**6-addition "
                    f"Python loop takes {figures['calibration']:.3f} s CPU here:"
                )
                print(
                    f"    rules on parsed input (derive_parsed): {min(figures['rules']):.2f} s -> {rate:,.0f} enc/s "
                    f"(median {count / statistics.median(figures['rules']):,.0f}; "
                    f"by CPU time {count / min(figures['rules_cpu']):,.0f})"
                )
                print(
                    f"    derive_encounter from JSON dicts:      {min(figures['full']):.2f} s -> "
                    f"{full_rate:,.0f} enc/s (median {count / statistics.median(figures['full']):,.0f}; "
                    f"by CPU time {count / min(figures['full_cpu']):,.0f})"
                )

        print("(b) command line against the standard library, fresh processes, output to a temporary file:")
        engine_cmd = [sys.executable, "-m", "charges.engine", str(path)]
        stdlib_cmd = [sys.executable, "-c", STDLIB_ROUND_TRIP, str(path)]
        engine_runs, stdlib_runs = [], []
        for _ in range(args.repeat):  # alternate, so drift in the machine's load hits both alike
            engine_runs.append(run_child(engine_cmd, scratch / "engine-out.json"))
            stdlib_runs.append(run_child(stdlib_cmd, scratch / "stdlib-out.json"))
        out_size = (scratch / "engine-out.json").stat().st_size
        if any(run["status"] != 0 for run in engine_runs):
            print("(b) the command line failed")
            return 1

        def median(runs: list[dict], key: str) -> float:
            return statistics.median(run[key] for run in runs)

        def peak(runs: list[dict], key: str) -> int:
            return max(run[key] for run in runs)

        engine_time, stdlib_time = median(engine_runs, "wall"), median(stdlib_runs, "wall")
        engine_cpu, stdlib_cpu = median(engine_runs, "cpu"), median(stdlib_runs, "cpu")
        time_ratio = engine_time / stdlib_time
        memory_ratio = peak(engine_runs, "maxrss") / peak(stdlib_runs, "maxrss")
        tree_ratio = peak(engine_runs, "tree_pss") / max(1, peak(stdlib_runs, "tree_pss"))
        for label, runs, wall, cpu in (
            ("python -m charges.engine", engine_runs, engine_time, engine_cpu),
            ("json.load + json.dump   ", stdlib_runs, stdlib_time, stdlib_cpu),
        ):
            print(
                f"    {label}: {wall:.2f} s wall ({cpu:.2f} s CPU, all processes); peak maxrss "
                f"{peak(runs, 'maxrss') / 1024:.0f} MiB; process tree ({peak(runs, 'processes')} processes) peak "
                f"Pss {peak(runs, 'tree_pss') / 1024:.0f} MiB, Rss {peak(runs, 'tree_rss') / 1024:.0f} MiB"
            )
        print(f"    output {out_size / 1e6:.1f} MB ({out_size / size:.2f}x the input)")
        print(
            f"    ratio (median of {args.repeat} runs): time {time_ratio:.2f}x (CPU {engine_cpu / stdlib_cpu:.2f}x); "
            f"memory {memory_ratio:.2f}x by maxrss, {tree_ratio:.2f}x by the tree's summed Pss"
        )

    print("targets:")
    if rate is not None:
        print(f"  engine alone >= {TARGET_RATE:,} encounters/s: {verdict(rate >= TARGET_RATE)} ({rate:,.0f})")
        print(f"  (derive_encounter incl. its parse step: {verdict(full_rate >= TARGET_RATE)}, {full_rate:,.0f})")
    print(
        f"  command line <= {TARGET_TIME_RATIO}x time: {verdict(time_ratio <= TARGET_TIME_RATIO)} ({time_ratio:.2f}x)"
    )
    print(
        f"  command line <= {TARGET_MEMORY_RATIO}x memory: by maxrss {verdict(memory_ratio <= TARGET_MEMORY_RATIO)} "
        f"({memory_ratio:.2f}x); by the process tree's Pss {verdict(tree_ratio <= TARGET_MEMORY_RATIO)} "
        f"({tree_ratio:.2f}x)"
    )
    return 0


def against(path: Path, directory: Path, repeat: int) -> int:
    """(c): this engine against the engine package in DIRECTORY, in a fresh pinned child process."""
    if not (directory / "api.py").is_file():
        print(f"(c) {directory} is not a copy of charges/engine (no api.py)")
        return 2
    probe = subprocess.run(  # noqa: S603 - this script again, in a fresh interpreter
        [sys.executable, __file__, "--against-child", str(path), str(repeat), str(directory)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    if probe.returncode != 0:
        sys.stderr.write(probe.stderr[-3000:])
        print("(c) comparison failed")
        return 1
    figures = json.loads(probe.stdout.strip().splitlines()[-1])
    count = figures["encounters"]
    print(
        f"(c) this engine against {directory} ({figures['pinned']}, {count} encounters, best of "
        f"{len(figures['this'])} alternating passes of derive_parsed each):"
    )
    if figures["differing"]:
        print(f"    outputs: {figures['differing']} of {count} encounters DIFFER, first: {figures['first_differing']}")
    else:
        print(f"    outputs: identical for all {count} encounters (derive_encounter, dict for dict)")
    for label, key in (("this engine ", "this"), ("the other   ", "other")):
        print(
            f"    {label}: {count / min(figures[key]):,.0f} enc/s wall, {count / min(figures[key + '_cpu']):,.0f} "
            "enc/s CPU"
        )
    print(
        f"    ratio this/other: {min(figures['other']) / min(figures['this']):.3f} wall, "
        f"{min(figures['other_cpu']) / min(figures['this_cpu']):.3f} CPU"
    )
    return 1 if figures["differing"] else 0


def _load_engine_copy(directory: Path):
    """The api and snapshot modules of the engine package in DIRECTORY, imported under a private name."""
    import importlib
    import importlib.util

    name = "engine_bench_other"
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.api"), importlib.import_module(f"{name}.snapshot")


def against_main(path: str, repeat: str, directory: str) -> int:
    """Child of --against: outputs compared on fresh JSON copies, then derive_parsed of both engines alternately."""
    pinned = pin_to_one_core()
    sys.path.insert(0, str(PROJECT_ROOT))
    from charges.engine import api as this_api
    from charges.engine.snapshot import SEED_DIR, load_seed_book

    other_api, other_snapshot = _load_engine_copy(Path(directory))
    engines = {"this": (this_api, load_seed_book()), "other": (other_api, other_snapshot.load_seed_book(SEED_DIR))}
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    encounters = json.loads(text)["encounters"]
    differing, first_differing = 0, None
    for mine, theirs in zip(json.loads(text)["encounters"], json.loads(text)["encounters"], strict=True):
        identifier = mine.get("id") if isinstance(mine, dict) else None
        if this_api.derive_encounter(mine, engines["this"][1]) != other_api.derive_encounter(
            theirs, engines["other"][1]
        ):
            differing += 1
            first_differing = first_differing or identifier
    parsed = {}
    for key, (api, _book) in engines.items():
        parsed[key] = [api.parse_encounter(encounter)[0] for encounter in json.loads(text)["encounters"]]
        parsed[key] = [encounter for encounter in parsed[key] if encounter is not None]
    gc.collect()
    gc.freeze()
    times = {"this": [], "other": [], "this_cpu": [], "other_cpu": []}
    for index in range(int(repeat) * 2):  # this, other, other, this, ...: neither always goes first
        for key in ("this", "other") if index % 2 == 0 else ("other", "this"):
            api, book = engines[key]
            derive_parsed = api.derive_parsed
            started, started_cpu = time.perf_counter(), time.process_time()
            for encounter in parsed[key]:
                derive_parsed(encounter, book)
            times[key].append(time.perf_counter() - started)
            times[key + "_cpu"].append(time.process_time() - started_cpu)
    print(
        json.dumps(
            {
                **times,
                "encounters": len(encounters),
                "differing": differing,
                "first_differing": first_differing,
                "pinned": pinned,
            }
        )
    )
    return 0


def calibration() -> float:
    """CPU seconds of a fixed pure-Python loop (10**6 additions): compares this machine's state between runs."""
    best = float("inf")
    for _ in range(5):
        started, total = time.process_time(), 0
        for number in range(1_000_000):
            total += number
        best = min(best, time.process_time() - started)
    return best


def alone_main(path: str, repeat: str) -> int:
    pinned = pin_to_one_core()
    figures = engine_alone(Path(path), int(repeat))
    figures["calibration"] = calibration()
    print(json.dumps({**figures, "pinned": pinned}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--alone":
        sys.exit(alone_main(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 5 and sys.argv[1] == "--against-child":
        sys.exit(against_main(sys.argv[2], sys.argv[3], sys.argv[4]))
    sys.exit(main())
