"""Security acceptance tests of issue 7 (cross-app). `COVERAGE` collects what the walks covered; the
conftest prints it in the terminal summary, with or without `-s`."""

COVERAGE: dict[str, str] = {}
