"""The network's bindings: its parameters' values (the user's, then the chosen preset's,
then the defaults), its input type, and the bindings it never used.

Part of :class:`~cnndsl.elaborate.elaborator.Elaborator` (a mixin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic
from ..ir.graph import TensorType
from ..syntax import ast
from . import presets
from .env import ElabError, Env, Thunk

if TYPE_CHECKING:
    from .elaborator import Elaborator

DEFAULT_INPUT = TensorType((3, 32, 32))


class NetworkBinding:
    def network_env(self: Elaborator) -> tuple[Env, ast.NetworkDef]:
        net = self.program.network
        assert net is not None
        env = Env({}, None, None, "network")
        preset = presets.bound_names(self.program, self.preset)
        presets.check_domains(self.program, self.bindings, self.preset, self.report)
        for p in net.params:
            if p.name in self.bindings or p.name in preset:
                continue
            if p.default is None and p.domain is not None and p.domain.size:
                env.vars[p.name] = p.domain[0]  # `N in 1..5`: the first value is the default
                self.explicit.add(p.name)
                continue
            if p.default is None and p.domain is not None:
                env.vars[p.name] = p.domain.low  # an empty range, E0205: no E0201 after it
                continue
            if p.default is None:
                self.report(Diagnostic("E0201", f"parameter `{p.name}` has no value", p.span,
                                       help=f"give a default (`{p.name}=...`) or bind it: "
                                       f"`--set {p.name}=<value>` / `bindings={{'{p.name}': ...}}`"))
                continue
            env.vars[p.name] = Thunk(p.default, env)
            self.explicit.add(p.name)
        self._bind_preset(net, env)
        for k, v in self.bindings.items():
            if not k.endswith("?"):
                env.vars[k] = v
                self.explicit.add(k)
        return env, net

    def _bind_preset(self: Elaborator, net: ast.NetworkDef, env: Env) -> None:
        """The chosen preset's values, under the user's bindings, over the defaults."""
        p = presets.check(self.program, net, self.preset, self.report)
        params = presets.bindable(net)
        for a in p.args if p else ():
            if a.name in params and a.name not in self.bindings:
                env.vars[a.name] = Thunk(a.value, env)
                self.explicit.add(a.name)

    def input_type(self: Elaborator, net: ast.NetworkDef, env: Env) -> TensorType | None:
        stmts = [s for s in net.body if isinstance(s, ast.InputStmt) and s.dims]
        if self.input_override is not None:
            return self.input_override
        if not stmts:
            self.report(Diagnostic("N0001", f"no input shape given; assuming {DEFAULT_INPUT}",
                                   net.span, help="write `input CxHxW` or pass --input"))
            return DEFAULT_INPUT
        if len(stmts) > 1:
            self.report(Diagnostic("E0501", "the input shape is given twice", stmts[1].span))
        s = stmts[0]
        try:
            dims = tuple(self.ev.eval(d, env) for d in s.dims)
        except ElabError as e:
            self.report(e.diagnostic)
            return None
        if len(dims) not in (1, 3) or any(not isinstance(d, int) or isinstance(d, bool)
                                          or d <= 0 for d in dims):
            self.report(Diagnostic("E0501", f"input must be CxHxW or F with positive integers, "
                                   f"got {'x'.join(map(str, dims))}", s.span))
            return None
        if len(dims) == 3 and dims[2] <= 4 < min(dims[0], dims[1]):
            c, h, w = dims
            self.report(Diagnostic(
                "W0501", f"the input {c}x{h}x{w} looks channels-last (height x width x "
                "channels)", s.span, label=f"read as {c} channels of {h}x{w} pixels",
                help=f"shapes are channels first: write input {w}x{c}x{h}"))
        return TensorType(dims)

    def _check_unused_bindings(self: Elaborator) -> None:
        params = {p.name for p in self.program.network.params} if self.program.network else set()
        lets = {s.name for s in (self.program.network.body if self.program.network else ())
                if isinstance(s, ast.Let)}
        for k in self.bindings:
            if k.endswith("?") and k != "?" and k not in self.used:
                self.report(Diagnostic("W0201", f"`{k}` switches an optional part, but the "
                                       "network has no such part", None,
                                       help="optional parts are named by their text, e.g. "
                                       "`POOL?` is switched by `--set POOL?=off`"))
                continue
            if k.endswith("?") or k in params or k in lets or k in self.used:
                continue
            self.report(Diagnostic("W0201", f"parameter `{k}` was bound but the network does "
                                   "not use it", None,
                                   help="check the spelling; parameters: "
                                   + (", ".join(sorted(params | lets)) or "none")))
