"""The charge engine: pure Python rules of ../shared/spec/coding-rules.md (version 2).

Imports nothing from Django or the apps. ``charges.engine.api`` is the entry point; ``python -m charges.engine``
is the command line of engine-io.md.
"""

ENGINE_VERSION = "1.2.0"
