"""Families: one program, many networks. A parameter's range or choices
(``N=2 in 1..5``), ``--set`` domains and optional parts span a design space
(:mod:`.space`); :mod:`.members` compiles its members, :mod:`.table` measures and
filters them, :mod:`.search` trains the promising ones."""

from .members import Family, Member, enumerate_family, fingerprint
from .space import Dimension, Space, parse_bindings, parse_domain

__all__ = ["Dimension", "Family", "Member", "Space", "enumerate_family", "fingerprint",
           "parse_bindings", "parse_domain"]
