"""The command line of engine-io.md: ``python -m charges.engine [--codebook DIR] INPUT.json|-``.

Exit 0 when the document was read (encounters may carry errors), 2 with one stderr line when the document
(or the codebook directory) cannot be used. Results are written encounter by encounter as they are computed.
Output is bytes (orjson); ``run`` writes to ``stdout.buffer`` when the stream has one, else to ``stdout``.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys

import orjson

from . import ENGINE_VERSION
from .api import derive_encounter
from .snapshot import SeedError, load_seed_book

USAGE = "usage: python -m charges.engine [--codebook DIR] INPUT.json (or - for stdin)"


def _fail(stderr, message: str) -> int:
    stderr.write(message.replace("\n", " ") + "\n")
    stderr.flush()
    return 2


def run(argv: list[str], stdin=None, stdout=None, stderr=None, book=None, freeze_gc: bool = False) -> int:
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    codebook = None
    source = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--codebook":
            if not args:
                return _fail(stderr, "--codebook needs a directory; " + USAGE)
            codebook = args.pop(0)
        elif arg.startswith("--codebook="):
            codebook = arg.split("=", 1)[1]
        elif arg in ("-h", "--help"):
            stderr.write(USAGE + "\n")
            return 0
        elif arg.startswith("-") and arg != "-":
            return _fail(stderr, f"unknown option {arg}; " + USAGE)
        elif source is None:
            source = arg
        else:
            return _fail(stderr, f"more than one input given ({source}, {arg}); " + USAGE)
    if source is None:
        return _fail(stderr, "no input given; " + USAGE)
    if book is None:
        try:
            book = load_seed_book(codebook) if codebook else load_seed_book()
        except SeedError as error:
            return _fail(stderr, f"cannot load the codebook: {error}")
    name = "stdin" if source == "-" else source
    try:
        if source == "-":
            reader = getattr(stdin, "buffer", stdin)
            data = reader.read()
        else:
            with open(source, "rb") as handle:
                data = handle.read()
        if isinstance(data, bytes):
            data = data.decode("utf-8-sig")
    except OSError as error:
        return _fail(stderr, f"cannot read {source}: {error.strerror or error}")
    except UnicodeDecodeError as error:
        return _fail(stderr, f"{name} is not UTF-8 text: {error}")
    collecting = gc.isenabled()
    gc.disable()  # parsed JSON has no reference cycles: no collector passes over the growing document
    try:
        # The standard library's parser keeps repeated keys shared: about 2/3 of orjson's peak memory here.
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        return _fail(stderr, f"{name} is not JSON: {error}")
    finally:
        if collecting:
            gc.enable()
    del data
    if freeze_gc:
        gc.freeze()  # the input is long-lived: keep later collections (and forked helpers' pages) off it
    if not isinstance(document, dict):
        return _fail(stderr, 'the document must be a JSON object with an "encounters" list')
    encounters = document.get("encounters")
    if not isinstance(encounters, list):
        return _fail(stderr, 'the document has no "encounters" list')
    out = getattr(stdout, "buffer", stdout)
    head = orjson.dumps({"engine_version": ENGINE_VERSION, "codebook_version": book.version})
    out.write(head[:-1] + b',"encounters":[')
    count = len(encounters)
    workers = _worker_count(count)
    if workers > 1:
        _write_parallel(encounters, book, out, workers)
    else:
        for start in range(0, count, CHUNK):
            out.write(_chunk_bytes(encounters, start, min(start + CHUNK, count), book))
    out.write(b"]}\n")
    try:
        out.flush()
    except (AttributeError, OSError):
        pass
    return 0


CHUNK = 500  # encounters per written piece (streaming granularity)
PARALLEL_MIN_ENCOUNTERS = 4000


def _worker_count(count: int) -> int:
    """Processes for the document: 1 unless ENGINE_WORKERS=2 asks for a forked helper on a second CPU.

    The single process already runs well inside the time budget (about 0.8x the CPU of the standard library's
    load + dump); a helper halves the wall time on an idle 2-CPU machine but its copy-on-write pages add to the
    memory of the process tree, so it is opt-in.
    """
    wanted = os.environ.get("ENGINE_WORKERS", "1")
    if count < PARALLEL_MIN_ENCOUNTERS or not hasattr(os, "fork") or os.environ.get("ENGINE_SINGLE_PROCESS"):
        return 1
    try:
        workers = int(wanted)
    except ValueError:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(workers, cpus, 2))


def _one(raw, book) -> dict:
    try:
        return derive_encounter(raw, book)
    except Exception as error:  # noqa: BLE001 - a bug must not stop the other encounters
        encounter_id = raw.get("id") if isinstance(raw, dict) else None
        return {
            "id": encounter_id if isinstance(encounter_id, (str, int)) and not isinstance(encounter_id, bool) else None,
            "lines": [],
            "warnings": [],
            "errors": [
                {
                    "code": "BAD_ENCOUNTER",
                    "administration": None,
                    "message": f"internal engine error ({type(error).__name__}); please report it",
                }
            ],
        }


def _chunk_bytes(encounters: list, start: int, stop: int, book) -> bytes:
    """Encounters [start, stop) as the bytes of their output (with the separating commas), freeing the input."""
    dumps = orjson.dumps
    pieces = []
    for index in range(start, stop):
        raw = encounters[index]
        encounters[index] = None  # free the input as we go (peak memory)
        piece = dumps(_one(raw, book))
        pieces.append(b"," + piece if index else piece)
    return b"".join(pieces)


def _write_parallel(encounters: list, book, out, workers: int) -> None:
    """Chunks alternate between this process and forked helpers; output stays in input order (streamed)."""
    count = len(encounters)
    chunks = list(range(0, count, CHUNK))
    helpers = []
    for worker in range(1, workers):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # helper: compute its chunks, send each as length + bytes
            os.close(read_fd)
            status = 0
            try:
                with os.fdopen(write_fd, "wb", buffering=1 << 20) as pipe:
                    for number, start in enumerate(chunks):
                        if number % workers == worker:
                            data = _chunk_bytes(encounters, start, min(start + CHUNK, count), book)
                            pipe.write(len(data).to_bytes(8, "big"))
                            pipe.write(data)
                            pipe.flush()
            except BaseException:  # noqa: BLE001 - the parent recomputes what is missing
                status = 1
            os._exit(status)
        os.close(write_fd)
        helpers.append((pid, os.fdopen(read_fd, "rb", buffering=1 << 20)))
    try:
        for number, start in enumerate(chunks):
            stop = min(start + CHUNK, count)
            owner = number % workers
            data = None
            if owner:
                pipe = helpers[owner - 1][1]
                if pipe is not None:
                    size = pipe.read(8)
                    if len(size) == 8:
                        expected = int.from_bytes(size, "big")
                        data = pipe.read(expected)
                        if len(data) != expected:
                            data = None
                    if data is None:
                        helpers[owner - 1] = (helpers[owner - 1][0], None)
                        data = None
                if data is not None:
                    for index in range(start, stop):
                        encounters[index] = None
            if data is None:
                data = _chunk_bytes(encounters, start, stop, book)
            out.write(data)
    finally:
        for pid, pipe in helpers:
            if pipe is not None:
                pipe.close()
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass


def main() -> int:
    try:
        return run(sys.argv[1:], freeze_gc=True)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # noqa: BLE001 - never a traceback
        sys.stderr.write(f"engine failed: {type(error).__name__}: {error}\n")
        return 2
