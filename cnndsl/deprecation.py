"""Old spellings that keep working for one release, each with a ``DeprecationWarning``.

A renamed keyword argument (``compile(src, params=...)`` is now ``bindings=``), a
renamed attribute (``Network.params`` is now ``Network.bindings``) and a renamed
function (``parse_params``) go through here, so that every old spelling warns the same
way and the list of what goes in the next release is a ``grep`` for this module.

>>> import warnings
>>> @renamed_keywords(params="bindings")
... def f(x, bindings=None):
...     return x, bindings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     f(1, params={"N": 2}), str(caught[0].message)
((1, {'N': 2}), '`params=` is deprecated: use `bindings=` (the old spelling goes in the next release)')
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def warn(old: str, new: str, stacklevel: int = 3) -> None:
    """The one warning: ``old`` is deprecated, use ``new``."""
    warnings.warn(f"{old} is deprecated: use {new} (the old spelling goes in the next "
                  "release)", DeprecationWarning, stacklevel=stacklevel)


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """A decorator: each ``old=new`` keyword is still accepted under its old name, with
    a warning. The signature shown (``inspect.signature``, the docs) is the new one;
    giving both names is a ``TypeError``, as giving one argument twice is."""
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__qualname__}() got both `{new}=` and its old "
                                        f"spelling `{old}=`")
                    warn(f"`{old}=`", f"`{new}=`")
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def renamed_attribute(new: str, old: str, owner: str) -> property:
    """A read-only property ``old`` that warns and reads the attribute ``new``
    (``owner``: the class's name, for the message)."""
    def read(self: Any) -> Any:
        warn(f"`{owner}.{old}`", f"`{owner}.{new}`")
        return getattr(self, new)
    read.__doc__ = f"Deprecated: the old name of :attr:`{new}`."
    return property(read)


def renamed_function(fn: F, old: str) -> F:
    """``fn`` under its old name ``old``, warning on each call."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warn(f"`{old}`", f"`{fn.__name__}`")
        return fn(*args, **kwargs)
    wrapper.__name__ = wrapper.__qualname__ = old
    wrapper.__doc__ = f"Deprecated: the old name of :func:`{fn.__name__}`."
    return wrapper  # type: ignore[return-value]
