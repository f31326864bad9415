"""python manage.py load_codebook [--force] [--dir DIR]: the neutral seed into the database codebook."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from codebook.services import CodebookError, codebook_load_seed


class Command(BaseCommand):
    help = (
        "Load the codebook seed (codebook/data, read by the engine's loader) into the database. "
        "Running it again changes nothing; rows edited, versioned or deleted in the admin are kept "
        "(rows nobody edited follow a newer seed) unless --force, which makes the database equal to the "
        "seed and is audited."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="overwrite admin changes: make every codebook table equal to the seed (audited)",
        )
        parser.add_argument("--dir", dest="directory", default=None, help="seed directory (default: codebook/data)")

    def handle(self, *args, force: bool = False, directory: str | None = None, **options) -> None:
        try:
            result = codebook_load_seed(force=force, directory=directory)
        except CodebookError as error:
            raise CommandError(str(error)) from None
        except DatabaseError as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CommandError(f"cannot write the codebook to the database ({message}); run migrate") from None
        width = max(len(name) for name in result.tables)
        for table, counts in result.tables.items():
            line = f"  {table:<{width}}  {counts.created:>4} created  {counts.updated:>4} updated"
            line += f"  {counts.unchanged:>4} unchanged  {counts.kept:>4} kept"
            if force:
                line += f"  {counts.deleted:>4} deleted"
            self.stdout.write(line)
        mode = " (forced)" if force else ""
        self.stdout.write(f"codebook {result.version}{mode}: {result.summary()}")
