r"""The one way text from a program reaches generated Python: identifiers and escapes.

Everything the backend writes is either made here from the source or is the backend's
own text. A name becomes an ASCII identifier that no other name in its scope, no
keyword, builtin or module the generated file uses can shadow; any other text (a block
call in a docstring, a file name in a comment) is escaped so that it stays one line of
comment or string, whatever characters it holds.

>>> identifier("stage½"), identifier("ｂ"), identifier("é_1")
('stage1u20442', 'b', 'e_1')
>>> ns = Namespace(RESERVED)
>>> ns.claim("F"), ns.claim("f"), ns.claim("None"), ns.claim("conv1"), ns.claim("conv1")
('F2', 'f', 'None2', 'conv1', 'conv1_2')
>>> print(comment("a \r import os; \u2028 \\"))
a \x0d import os; \u2028 \\
>>> print(docstring('b("x")'))
b(\"x\")
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

# Names the generated module defines or imports at its top level.
MODULE_NAMES = ("torch", "nn", "F", "math", "Any", "build", "INPUT_SHAPE", "NUM_CLASSES")
# nn.Module's own attributes: a submodule with one of these names would replace them.
MODULE_ATTRIBUTES = (
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
    "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
    "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
    "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
    "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad",
)
RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(
    dir(builtins)) | frozenset(MODULE_NAMES) | frozenset(("self", "x", "identity"))


def identifier(text: str, fallback: str = "x") -> str:
    """An ASCII identifier ``[A-Za-z][A-Za-z0-9_]*`` made from any text.

    NFKC first (as Python reads identifiers), then accents are dropped (``é`` -> ``e``)
    and a character with no ASCII form is written by its code point (``u4e2d``). No
    leading underscore: it would make a private or name-mangled attribute.
    """
    if text.isascii() and text.isidentifier() and text[0] != "_":
        return text  # the usual case, already an identifier
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch.isascii():
            out.append(ch if ch.isalnum() or ch == "_" else "_")
            continue
        plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        plain = re.sub(r"[^A-Za-z0-9]", "", plain)
        out.append(plain or f"u{ord(ch):04x}")
    name = "".join(out).lstrip("_")
    if not name:
        return fallback
    return name if not name[0].isdigit() else f"{fallback}{name}"


def camel(text: str, fallback: str = "Net") -> str:
    """A class name: ``stage_b`` -> ``StageB``."""
    parts = identifier(text, fallback).split("_")
    name = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return name if name and not name[0].isdigit() else fallback + name


class Namespace:
    """Unique identifiers in one scope; a taken or reserved name gets a number."""

    def __init__(self, reserved=()):
        self.taken: set[str] = set(reserved)

    def claim(self, preferred: str, fallback: str = "x") -> str:
        base = identifier(preferred, fallback)
        name, k = base, 2
        while name in self.taken:
            name = f"{base}_{k}" if base[-1].isdigit() else f"{base}{k}"
            k += 1
        self.taken.add(name)
        return name


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def comment(text: str) -> str:
    """Text for a ``#`` comment: one line of printable ASCII, everything else escaped
    (line breaks of every kind included), so it can never end the comment."""
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text
    return "".join(ch if " " <= ch <= "~" and ch != "\\" else
                   "\\\\" if ch == "\\" else _escape(ch) for ch in text)


def docstring(text: str) -> str:
    """The inside of a ``\"\"\"...\"\"\"`` docstring whose value is ``text``: as
    :func:`comment`, with every quote escaped too."""
    return comment(text).replace('"', '\\"')
