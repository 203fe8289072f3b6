"""Names in written source: block, parameter and tensor names made from what a model
calls its modules, always valid identifiers of the language and never a name it
already gives a meaning to.

Class and attribute names come from user models (or files): they are read as data,
cut down to ASCII letters, digits and underscores, and never copied into the source
otherwise, so that no name can carry text into the program.

>>> snake("InvertedResidual"), snake("SEBlock"), snake("_DenseBlock"), snake("Conv2dNormActivation")
('inverted_residual', 'se_block', 'dense_block', 'conv2d_norm_activation')
>>> snake("1; import os"), snake("Blöck"), snake("模块")
('b1_import_os', 'block', '')
>>> attribute_name("layer1"), attribute_name("denseblock2"), attribute_name("Mixed_5b"), attribute_name("0")
('layer', 'denseblock', 'mixed', '')
>>> taken = Names()
>>> taken.fresh("conv"), taken.fresh("se"), taken.fresh("bottleneck"), taken.fresh("bottleneck")
('conv_block', 'se_block', 'bottleneck', 'bottleneck_2')
"""

from __future__ import annotations

import functools
import re
import unicodedata

from .. import ops
from ..elaborate import builtins
from ..elaborate.blocks import PRELUDE
from ..elaborate.env import BOOLEANS, BUILTIN_DEFAULTS, is_math
from ..fmt import KEYWORDS
from ..syntax.parser import parse

MAX_LENGTH = 40
# Names with a meaning inside any block or network besides the operators and blocks.
_SPECIAL = {"in_c", "in_h", "in_w", "repeat_index"} | set(BOOLEANS) | set(BUILTIN_DEFAULTS)
# Classes that only hold other modules: a block is named after the attribute instead.
GENERIC_CLASSES = {"sequential", "module_list", "module_dict", "modulelist", "moduledict"}


@functools.lru_cache(maxsize=1)
def prelude_blocks() -> frozenset[str]:
    """The prelude's block names (lower case)."""
    program = parse(PRELUDE.read_text(encoding="utf-8"), "<prelude>")
    return frozenset(b.name.lower() for b in program.blocks)


def reserved(name: str) -> bool:
    """Whether ``name`` already means something: an operator (or alias, plugins
    included), a built-in block, a prelude block, a keyword, a function or a name every
    block sees (``in_c``, ``classes``, ``true``)."""
    low = name.lower()
    return (ops.lookup(low) is not None or builtins.lookup(low) is not None
            or low in prelude_blocks() or low in KEYWORDS or is_math(low) or low in _SPECIAL)


def clean(text: str) -> str:
    """``text`` as a lower-case ASCII identifier (maybe empty): accents dropped,
    anything else that is not a letter or digit an underscore, none doubled."""
    text = unicodedata.normalize("NFKD", str(text))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if text[:1].isdigit():
        text = "b" + text
    return text[:MAX_LENGTH].rstrip("_")


def snake(class_name: str) -> str:
    """A class name in snake case (``InvertedResidual`` -> ``inverted_residual``)."""
    text = unicodedata.normalize("NFKD", str(class_name))
    text = text.encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return clean(text)


def attribute_name(attr: str) -> str:
    """A module attribute as a block name: its letters before the first digit
    (``layer1`` -> ``layer``, ``Mixed_5b`` -> ``mixed``), or empty."""
    text = clean(re.split(r"\d", str(attr), maxsplit=1)[0])
    return text if text and not text[:1].isdigit() else ""


class Names:
    """A namespace: each name given out once, none of them reserved."""

    def __init__(self, taken: set[str] | None = None):
        self.taken: set[str] = set(taken or ())

    def ok(self, name: str) -> bool:
        return bool(name) and name.isidentifier() and name not in self.taken \
            and not reserved(name)

    def fresh(self, base: str, fallback: str = "block") -> str:
        """``base`` (cleaned), else ``base_block`` where it means something already,
        else with a number: ``bottleneck``, ``bottleneck_2``."""
        base = clean(base) or fallback
        name = base if not reserved(base) else f"{base}_{fallback}"
        k = 2
        stem = name
        while not self.ok(name):
            name = f"{stem}_{k}"
            k += 1
        self.taken.add(name)
        return name

    def short(self, base: str) -> str:
        """A short name (a parameter's, a tensor's): ``c``, then ``c2``, ``c3``."""
        base = clean(base) or "v"
        name, k = base, 2
        while not self.ok(name):
            name = f"{base}{k}"
            k += 1
        self.taken.add(name)
        return name
