"""python manage.py derive_charges INPUT.json (or - for stdin): the engine with the database codebook.

Same engine, same input and output as ``python -m charges.engine`` (../shared/spec/engine-io.md);
the only difference is where the rules come from: ``codebook.selectors.rules_book()`` (the codebook
as kept in the admin) instead of the shipped seed files. The writing is the engine's own
(``charges.engine.cli.run``), so for the same rules the bytes are identical. A bad document exits
with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from charges.engine.snapshot import SeedError
from codebook.models import Payer, ProcedureCode
from codebook.selectors import rules_book


class Command(BaseCommand):
    help = "Derive charge lines for an engine-io.md input document with the database codebook (JSON to stdout)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("input_path", metavar="INPUT.json", help="input document, or - to read standard input")

    def handle(self, *args, input_path: str, **options) -> None:
        from charges.engine.cli import run

        try:
            if not ProcedureCode.objects.exists() or not Payer.objects.exists():
                raise CommandError("the database codebook is empty: run python manage.py load_codebook first")
            book = rules_book()
        except SeedError as error:
            raise CommandError(f"the database codebook does not build a rules book: {error}") from None
        except DatabaseError as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CommandError(f"cannot read the codebook from the database ({message}); run migrate") from None
        stdout = self.stdout._out  # the real stream: the engine writes bytes to its buffer
        stderr = self.stderr._out
        status = run([input_path], stdin=sys.stdin, stdout=stdout, stderr=stderr, book=book)
        for stream in (stdout, stderr):
            try:
                stream.flush()
            except (AttributeError, ValueError, OSError):
                pass
        if status:
            sys.exit(status)
