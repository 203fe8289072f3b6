"""IR to a standalone, readable PyTorch source file.

The file imports torch only (and ``typing.Any``, below; and the module classes of plugin
operators, :attr:`cnndsl.ops.OpDef.torch_imports`). One ``nn.Module`` class per distinct block instantiation
(identical instantiations share a class), attribute names from the source's scopes, a
straight-line forward with one statement per node and a shape comment on each line.
Building a module executes this very text (:func:`build`), after checking it against
an allow-list (:mod:`cnndsl.backends.codecheck`), so what the user reads is what runs.

In-place operations are written where the IR proves them invisible
(:mod:`cnndsl.backends.inplace`): ``nn.ReLU(inplace=True)`` and ``x += identity``, as
torchvision writes them. A network with auxiliary heads returns ``(main, aux1, ...)``
while training and the main output otherwise; its forward is annotated ``-> Any``, the
one return type TorchScript accepts for both (torchvision's GoogLeNet instead returns
the tuple whenever it is scripted).

The work is four steps, one module each, each using only the ones before it:

- :mod:`~cnndsl.backends.torch_tree`: the nodes nested by block call, each scope an
  instance holding its modules' constructors (:class:`~cnndsl.ops.ctor.Ctor` values
  from the operators) and its forward statements;
- :mod:`~cnndsl.backends.torch_classes`: which instances share a class, and which of
  their constructors' numbers become its parameters (compared as values, never
  recovered from text);
- :mod:`~cnndsl.backends.torch_render`: the file's text (:func:`emit`);
- :mod:`~cnndsl.backends.torch_build`: check, compile and execute it (:func:`build`).

NOTE: what reaches the text. Names are made by :mod:`cnndsl.backends.pynames` (ASCII
identifiers, unique in their scope, never a keyword, builtin or module the file uses);
any other text from the program (block calls, file names) is escaped into a comment or
docstring there; attribute values are checked to be plain finite numbers, booleans and
the operators' own words before an operator sees them, and a constructor value holds
nothing else (:mod:`cnndsl.ops.ctor`), so it renders to one call of a name with literal
arguments.
"""

from __future__ import annotations

from .torch_build import _program, build
from .torch_render import Emitted, emit, to_source
from .torch_tree import UnsafeValue

__all__ = ["Emitted", "UnsafeValue", "_program", "build", "emit", "to_source"]
