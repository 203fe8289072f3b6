# The server module needs pygls (the `lsp` extra); without it, its doctests are skipped.
import importlib.util

collect_ignore = [] if importlib.util.find_spec("pygls") else ["server.py"]
