"""Nurse save-and-preview benchmark on PostgreSQL (issue 4 performance target: p95 < 150 ms, 20 clients).

What is measured
----------------
One sample is what a nurse waits for after pressing "Save": the htmx POST of a new administration
(POST /charting/encounters/<pk>/administrations/new/ with HX-Request and X-CSRFToken, answered by the
administrations block with `HX-Trigger: charges-changed`) followed by the GET of the "Charges preview"
fragment that this trigger makes the page fetch. The time of the pair, from sending the POST to
reading the whole preview, is one sample; the save and the preview are also reported alone.

The server is the production stack: gunicorn (`--workers 4 --threads 1` by default) serving
`infusioncenter.wsgi` with DEBUG off and the production settings, except the two things plain
http on 127.0.0.1 needs: `SECURE_SSL_REDIRECT=0` (the settings' own knob; HSTS and Secure cookies
stay on, the bench's client sends its cookies itself) and a `STATIC_ROOT` in a temporary directory
(a settings module written there that imports `infusioncenter.settings` and changes only that,
so collectstatic never writes into the checkout). No REDIS_URL: Celery runs eagerly, so **every
save includes the engine run and the charge-line update inside the request** (the worst case for
the nurse; the preview then reads the stored derivation). Database connections: `CONN_MAX_AGE`
(`--conn-max-age`, default 60 = the settings' default, persistent connections; 0 = a new
connection per request).

Each client is its own nurse with her own session (signed in through the login form; PBKDF2, not
timed) and her own encounter, in a thread of this process using plain `http.client` (one
connection per request, as gunicorn's sync workers close after each response). Two phases, each
on fresh encounters (so both grow from 0 to `--saves` administrations):

- closed loop: every client saves again as soon as her preview arrived (no think time): the stress
  case, which measures the server's throughput more than a nurse's wait;
- paced: every client waits a random 1-3 s (`--think`) before each save, a brisk nurse's pace (real
  charting is slower: a save every few minutes per nurse).

Before the server starts, one in-process client (Django's test client, same database, DEBUG on)
saves `--probe-saves` administrations and reports the queries of a save and of its preview
(`CaptureQueriesContext`, steady state) and its in-process latency; `--profile FILE` writes a
cProfile of that client. The bench process shares the 2 cores with gunicorn and PostgreSQL.

The script creates a bench database, migrates it, loads the codebook seed, and drops it at the
end (also on failure). Run it under the shared lock when the figures matter:

    flock /tmp/bench.lock .venv/bin/python bench/nurse_save_bench.py [--clients 20] [--saves 10]
        [--workers 4] [--conn-max-age 60] [--think 1-3] [--phases closed,paced] [--probe-saves 8]
        [--profile FILE] [--server-profile DIR] [--keep]
    PG_URL=postgres://postgres@127.0.0.1:5432  (server to use; default shown)
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY = datetime.date(2025, 3, 4)
PASSWORD = "bench-nurse-" + secrets.token_urlsafe(12)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def _form_data(n: int) -> dict[str, str]:
    """The n-th administration of an encounter: a rituximab infusion first, then ondansetron pushes."""
    start_minute = 8 * 60 + n * 25
    return {
        "drug": "rituximab" if n == 0 else "ondansetron",
        "route": "iv_infusion" if n == 0 else "iv_push",
        "site": "A",
        "start_date": DAY.isoformat(),
        "start_time": f"{start_minute // 60:02d}:{start_minute % 60:02d}",
        "stop_time": "14:10" if n == 0 else "",
        "dose": "700" if n == 0 else "8",
        "dose_unit": "mg",
        "wasted": "0",
        "pause-TOTAL_FORMS": "1",
        "pause-INITIAL_FORMS": "0",
        "pause-MIN_NUM_FORMS": "0",
        "pause-MAX_NUM_FORMS": "20",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--saves", type=int, default=10, help="saves per client and phase")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (1 thread each)")
    parser.add_argument(
        "--conn-max-age", type=int, default=60, help="CONN_MAX_AGE of the server (60 = the settings' default)"
    )
    parser.add_argument("--think", default="1-3", help="paced phase: seconds between saves, MIN-MAX")
    parser.add_argument(
        "--phases", default="closed,paced", help="comma-separated: closed, paced ('' = the in-process probe only)"
    )
    parser.add_argument("--probe-saves", type=int, default=8, help="in-process saves counting queries")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the in-process client to FILE")
    parser.add_argument(
        "--server-profile",
        metavar="DIR",
        help="cProfile (CPU time) every gunicorn worker; DIR/worker-<pid>.prof at exit",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    import psycopg

    server = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    db_name = f"bench_nurse_{os.getpid()}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    os.environ["DATABASE_URL"] = f"{server}/{db_name}"
    os.environ.pop("REDIS_URL", None)  # eager: each save includes the engine run
    os.environ["DEBUG"] = "1"  # this process only (setup and the in-process probe); the server runs DEBUG off
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infusioncenter.settings")
    try:
        return _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            print(f"dropped {db_name}")


# --- setup and the in-process probe ------------------------------------------------------------------


def _setup(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    import logging

    logging.disable(logging.CRITICAL)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from accounts.models import Center, Membership
    from accounts.roles import Role
    from charges.services.encounters import encounter_create
    from codebook.services import codebook_load_seed

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    codebook_load_seed(force=False)
    center = Center.objects.create(
        name="Bench Center",
        slug="bench",
        time_zone="America/New_York",
        setting="facility",
        default_payer="medicare",
        place_of_service="22",
        billing_entity="hospital",
        department_status="on_campus",
    )
    phases = [p for p in args.phases.split(",") if p]
    users, encounters = [], {p: [] for p in ["warmup", "probe", *phases]}
    for i in range(args.clients):
        user = get_user_model().objects.create_user(username=f"bench_nurse_{i}", password=PASSWORD)
        Membership.objects.create(user=user, center=center, role=Role.NURSE)
        users.append(user)
        for phase in encounters:
            if phase == "probe" and i > 0:
                continue
            enc = encounter_create(
                center=center,
                actor=user,
                values={
                    "patient_mrn": f"B{phase[:2]}{i:03d}",
                    "patient_name": f"Bench {phase} {i}",
                    "service_date": DAY,
                },
            )
            encounters[phase].append(enc.pk)
    print(f"setup: {time.perf_counter() - t0:.1f} s (migrate, codebook seed, {args.clients} nurses)")
    return {"users": [u.username for u in users], "user_objs": users, "encounters": encounters}


def _probe(args: argparse.Namespace, setup: dict) -> None:
    """One client in this process: queries per save and per preview, and the in-process latency."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    setup_test_environment()
    client = Client()
    client.force_login(setup["user_objs"][0])
    pk = setup["encounters"]["probe"][0]
    new_url = reverse("charges:administration_new", args=[pk])
    preview_url = reverse("charges:preview", args=[pk])
    client.get(reverse("charges:encounter", args=[pk]))  # warm-up: URL modules, templates, caches
    rows = []

    def run() -> None:
        for n in range(args.probe_saves):
            t, cpu = time.perf_counter(), time.thread_time()
            with CaptureQueriesContext(connection) as save_q:
                saved = client.post(new_url, _form_data(n), HTTP_HX_REQUEST="true")
            t_save = time.perf_counter() - t
            with CaptureQueriesContext(connection) as preview_q:
                preview = client.get(preview_url, HTTP_HX_REQUEST="true")
            elapsed, cpu = time.perf_counter() - t, time.thread_time() - cpu
            assert saved.status_code == 200 and "HX-Trigger" in saved and preview.status_code == 200
            rows.append((len(save_q.captured_queries), len(preview_q.captured_queries), t_save, elapsed, cpu))

    if args.profile:
        import cProfile

        cProfile.runctx("run()", globals(), {"run": run}, args.profile)
        print(f"profile of the in-process client written to {args.profile}")
    else:
        run()
    steady = rows[2:] or rows  # the first saves create the charge set and its first lines
    saves_q = [r[0] for r in steady]
    previews_q = [r[1] for r in steady]
    save_median, preview_median = statistics.median(saves_q), statistics.median(previews_q)
    print(
        f"in-process probe ({len(rows)} saves, test client, DEBUG on, no HTTP): queries per save "
        f"{save_median:.0f} (min {min(saves_q)}, max {max(saves_q)}), per preview {preview_median:.0f}, "
        f"per save+preview {save_median + preview_median:.0f} (the server, DEBUG off, runs the same: its "
        "second-factor check reads the memberships the request already read); "
        f"latency save+preview p50 {statistics.median(r[3] for r in steady) * 1000:.0f} ms "
        f"(save alone {statistics.median(r[2] for r in steady) * 1000:.0f} ms), "
        f"Python CPU (this thread) {statistics.median(r[4] for r in steady) * 1000:.0f} ms"
    )


# --- the server ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(args: argparse.Namespace, tmp: Path) -> dict[str, str]:
    static_root = tmp / "static"
    (tmp / "bench_settings.py").write_text(
        "# written by bench/nurse_save_bench.py: the production settings, static files collected outside the checkout\n"
        "from infusioncenter.settings import *  # noqa: F403\n"
        f"STATIC_ROOT = {str(static_root)!r}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",  # plain http on 127.0.0.1; every other production flag stays on
            "CONN_MAX_AGE": str(args.conn_max_age),
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)]),
        }
    )
    return env


def _start_server(args: argparse.Namespace, tmp: Path) -> tuple[subprocess.Popen, int, Path]:
    env = _server_env(args, tmp)
    subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v0"],
        env=env,
        cwd=ROOT,
        check=True,
    )
    port = _free_port()
    log = tmp / "gunicorn.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn),
        "infusioncenter.wsgi",
        "--workers",
        str(args.workers),
        "--threads",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "--error-logfile",
        str(log),
        "--log-level",
        "warning",
    ]
    log_file = log.open("ab")  # the workers' own log lines (JSON on stderr) go there too
    if args.server_profile:
        target = Path(args.server_profile).resolve()
        target.mkdir(parents=True, exist_ok=True)
        (tmp / "gunicorn_profile.py").write_text(
            "import cProfile, os, time\n"
            "_profile = cProfile.Profile(time.process_time)  # CPU time of the worker, not wall time\n"
            "def post_worker_init(worker):\n"
            "    _profile.enable()\n"
            "def worker_exit(server, worker):\n"
            "    _profile.disable()\n"
            f"    _profile.dump_stats(os.path.join({str(target)!r}, f'worker-{{os.getpid()}}.prof'))\n"
        )
        command += ["--config", str(tmp / "gunicorn_profile.py")]
    proc = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        command, env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT
    )
    log_file.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")
    print(
        f"server: {' '.join(command[1:])} (pid {proc.pid}), DEBUG off, CONN_MAX_AGE={args.conn_max_age}, Celery eager"
    )
    return proc, port, log


def _cpu_of(pids: list[int]) -> dict[int, float]:
    """User+system CPU seconds used so far by each process (from /proc; gone processes are left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return found


def _server_cpu(proc: subprocess.Popen) -> dict[int, float]:
    """CPU seconds of the gunicorn master and its workers."""
    try:
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    except OSError:
        children = []
    return _cpu_of([proc.pid, *children])


def _database_cpu() -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends connected to the bench database (same machine only)."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    server, db_name = url.rsplit("/", 1)
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            pids = [row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [db_name])]
    except psycopg.Error:
        return {}
    return _cpu_of(pids)


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings by the processes alive at the second (new ones count from 0)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


class Nurse:
    """One browser: its own cookies (session and CSRF) and CSRF token, one connection per request."""

    CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
    FORM_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

    def __init__(self, port: int, username: str) -> None:
        self.port = port
        self.username = username
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(
        self, method: str, path: str, data: dict | None = None, headers: dict | None = None
    ) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        head = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            head["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=head)
            response = conn.getresponse()
            content = response.read()
            for raw in response.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(raw)
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return response.status, dict(response.headers.items()), content
        finally:
            conn.close()

    def login(self) -> None:
        status, _h, body = self.request("GET", "/accounts/login/")
        match = self.FORM_CSRF_RE.search(body.decode())
        if status != 200 or not match:
            raise RuntimeError(f"{self.username}: login page {status}")
        status, headers, _b = self.request(
            "POST",
            "/accounts/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": match.group(1)},
        )
        if status != 302 or "login" in headers.get("Location", ""):
            raise RuntimeError(f"{self.username}: sign-in refused ({status})")

    def open_encounter(self, pk: int) -> None:
        status, _h, body = self.request("GET", f"/charting/encounters/{pk}/")
        match = self.CSRF_RE.search(body.decode())
        if status != 200 or not match:
            raise RuntimeError(f"{self.username}: encounter page {status}")
        self.csrf = match.group(1)

    def save_and_preview(self, pk: int, n: int) -> tuple[float, float, float, str]:
        """(pair, save, preview) seconds and '' or what went wrong."""
        htmx = {"HX-Request": "true", "HX-Current-URL": f"http://127.0.0.1:{self.port}/charting/encounters/{pk}/"}
        t = time.perf_counter()
        status, headers, _body = self.request(
            "POST",
            f"/charting/encounters/{pk}/administrations/new/",
            _form_data(n),
            {**htmx, "HX-Target": "administrations-block", "X-CSRFToken": self.csrf},
        )
        t_save = time.perf_counter() - t
        t2 = time.perf_counter()
        p_status, _ph, p_body = self.request("GET", f"/charting/encounters/{pk}/preview/", None, htmx)
        t_preview = time.perf_counter() - t2
        elapsed = time.perf_counter() - t
        problem = ""
        if status != 200 or headers.get("HX-Trigger") != "charges-changed":
            problem = f"save {status}"
        elif p_status != 200:
            problem = f"preview {p_status}"
        elif b"preview-pending" in p_body or b"Retry" in p_body:
            problem = "preview not ready"
        return elapsed, t_save, t_preview, problem


def _phase(name: str, args: argparse.Namespace, nurses: list[Nurse], pks: list[int], proc: subprocess.Popen) -> None:
    think_min, think_max = (float(x) for x in args.think.split("-"))
    samples: list[tuple[float, float, float]] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(nurses))

    def client_run(index: int) -> None:
        nurse, pk = nurses[index], pks[index]
        rng = random.Random(index)  # noqa: S311 - think times, not secrets
        nurse.open_encounter(pk)
        barrier.wait()
        for n in range(args.saves):
            if name == "paced":
                time.sleep(rng.uniform(think_min, think_max))
            elapsed, t_save, t_preview, problem = nurse.save_and_preview(pk, n)
            with lock:
                if problem:
                    failures.append(f"client {index} save {n}: {problem}")
                else:
                    samples.append((elapsed, t_save, t_preview))

    threads = [threading.Thread(target=client_run, args=(i,)) for i in range(len(nurses))]
    cpu0, db0, load0 = _server_cpu(proc), _database_cpu(), os.getloadavg()[0]
    t1 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t1
    cpu, db_cpu = _used(cpu0, _server_cpu(proc)), _used(db0, _database_cpu())
    label = {
        "closed": "closed loop (no think time: the stress case)",
        "paced": f"paced ({args.think} s random think time before each save: a brisk nurse)",
    }[name]
    print(f"\n== {label}")
    print(f"   clients {len(nurses)}, pairs {len(samples)} ok, {len(failures)} failed, wall {wall:.1f} s")
    for failure in failures[:5]:
        print("   failure:", failure)
    if samples:
        pair = [s[0] * 1000 for s in samples]
        save = [s[1] * 1000 for s in samples]
        preview = [s[2] * 1000 for s in samples]
        print(
            f"   save-and-preview: p50 {statistics.median(pair):.0f} ms, p95 {_percentile(pair, 95):.0f} ms, "
            f"max {max(pair):.0f} ms  (target p95 < 150 ms: {'met' if _percentile(pair, 95) < 150 else 'NOT met'})"
        )
        print(
            f"   save alone: p50 {statistics.median(save):.0f} ms, p95 {_percentile(save, 95):.0f} ms; "
            f"preview alone: p50 {statistics.median(preview):.0f} ms, p95 {_percentile(preview, 95):.0f} ms"
        )
        print(
            f"   throughput: {len(samples) / wall:.1f} save+preview pairs/s, "
            f"{2 * (len(samples) + len(failures)) / wall:.1f} requests/s"
        )
        pairs = len(samples) + len(failures)
        db_note = (
            f"PostgreSQL backends {db_cpu / pairs * 1000:.0f} ms"
            if args.conn_max_age
            else "PostgreSQL not counted (a backend per request with CONN_MAX_AGE=0)"
        )
        print(
            f"   CPU per save+preview (user+sys): gunicorn {cpu / pairs * 1000:.0f} ms, {db_note}; "
            f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)"
        )


def _run(args: argparse.Namespace) -> int:
    setup = _setup(args)
    _probe(args, setup)
    from django.db import connections

    connections.close_all()
    phases = [p for p in args.phases.split(",") if p]
    if not phases:  # --phases '': the in-process probe only
        return 0
    with tempfile.TemporaryDirectory(prefix="nurse-bench-") as tmpdir:
        tmp = Path(tmpdir)
        proc, port, log = _start_server(args, tmp)
        try:
            nurses = [Nurse(port, username) for username in setup["users"]]
            t0 = time.perf_counter()
            for nurse in nurses:
                nurse.login()
            # warm every worker (imports, URL resolver, templates, codebook caches): 2 saves per client
            warm = setup["encounters"]["warmup"]

            def warm_up(i: int) -> None:
                nurses[i].open_encounter(warm[i])
                for n in range(2):
                    nurses[i].save_and_preview(warm[i], n)

            threads = [threading.Thread(target=warm_up, args=(i,)) for i in range(len(nurses))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print(f"sign-in and warm-up of {len(nurses)} clients: {time.perf_counter() - t0:.1f} s")
            for name in phases:
                _phase(name, args, nurses, setup["encounters"][name], proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            errors = [line for line in log.read_text().splitlines() if "Traceback" in line or '"ERROR"' in line]
            if errors:
                print(f"gunicorn log: {len(errors)} error lines, e.g. {errors[0][:200]}")
    from charges.models import Administration

    print(f"\nadministrations stored: {Administration.objects.count()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
