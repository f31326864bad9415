"""The command line of engine-io.md: ``python -m charges.engine [--codebook DIR] INPUT.json|-``.

Exit 0 when the document was read (encounters may carry errors), 2 with one stderr line when the document
(or the codebook directory) cannot be used. Results are written encounter by encounter as they are computed.
Output is bytes (orjson); ``run`` writes to ``stdout.buffer`` when the stream has one, else to ``stdout``.
"""

from __future__ import annotations

import json
import sys

import orjson

from . import ENGINE_VERSION
from .api import derive_encounter
from .snapshot import SeedError, load_seed_book

USAGE = "usage: python -m charges.engine [--codebook DIR] INPUT.json (or - for stdin)"
_FLUSH_BYTES = 1 << 16


def _fail(stderr, message: str) -> int:
    stderr.write(message.replace("\n", " ") + "\n")
    stderr.flush()
    return 2


def run(argv: list[str], stdin=None, stdout=None, stderr=None, book=None) -> int:
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
    try:
        # The standard library's parser keeps repeated keys shared: about 2/3 of orjson's peak memory here.
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        return _fail(stderr, f"{name} is not JSON: {error}")
    del data
    if not isinstance(document, dict):
        return _fail(stderr, 'the document must be a JSON object with an "encounters" list')
    encounters = document.get("encounters")
    if not isinstance(encounters, list):
        return _fail(stderr, 'the document has no "encounters" list')
    out = getattr(stdout, "buffer", stdout)
    write = out.write
    head = orjson.dumps({"engine_version": ENGINE_VERSION, "codebook_version": book.version})
    chunks = [head[:-1], b',"encounters":[']
    size = 0
    dumps = orjson.dumps
    for index in range(len(encounters)):
        raw = encounters[index]
        encounters[index] = None  # free the input as we go (peak memory)
        try:
            result = derive_encounter(raw, book)
        except Exception as error:  # noqa: BLE001 - a bug must not stop the other encounters
            result = {
                "id": raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), (str, int)) else None,
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
        piece = dumps(result)
        if index:
            chunks.append(b",")
        chunks.append(piece)
        size += len(piece)
        if size >= _FLUSH_BYTES:
            write(b"".join(chunks))
            chunks = []
            size = 0
    chunks.append(b"]}\n")
    write(b"".join(chunks))
    try:
        out.flush()
    except (AttributeError, OSError):
        pass
    return 0


def main() -> int:
    try:
        return run(sys.argv[1:])
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # noqa: BLE001 - never a traceback
        sys.stderr.write(f"engine failed: {type(error).__name__}: {error}\n")
        return 2
