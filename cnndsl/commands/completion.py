"""cnndsl completion bash|zsh|fish: a shell completion script (commands, options, zoo
names, operator names), generated from the command line's own parsers."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("completion", description="Print a completion script for a shell. "
                       "bash: eval \"$(cnndsl completion bash)\" in ~/.bashrc; zsh: the same "
                       "in ~/.zshrc; fish: cnndsl completion fish > "
                       "~/.config/fish/completions/cnndsl.fish")
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")


def _commands() -> dict[str, list[str]]:
    """Every command and its options, from the parsers the CLI itself builds."""
    from ..cli import COMMANDS, build_parser
    out: dict[str, list[str]] = {}
    for name in COMMANDS:
        parser = build_parser(name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        out[name] = sorted({o for a in sub.choices[name]._actions for o in a.option_strings
                            if o.startswith("--")})
    return out


def _words() -> tuple[list[str], list[str]]:
    from .. import ops
    from ..elaborate import builtins
    from .ops import prelude_blocks
    from .zoo import entries
    zoo = [n for n, _ in entries()]
    layers = sorted({op.name for op in ops.all_ops() if op.family != "io"}
                    | {n for n, _, _ in prelude_blocks()} | set(builtins.names()))
    return zoo, layers


def bash() -> str:
    commands = _commands()
    zoo, layers = _words()
    cases = "\n".join(f"        {name}) opts=\"{' '.join(opts)}\" ;;"
                      for name, opts in commands.items())
    return f"""# cnndsl completion for bash (and zsh through bashcompinit)
_cnndsl() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="${{COMP_WORDS[1]}}" opts=""
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{' '.join(commands)}" -- "$cur"))
        return
    fi
    case "$cmd" in
{cases}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ "$cmd" = ops ]; then
        COMPREPLY=($(compgen -W "{' '.join(layers)}" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "{' '.join(zoo)}" -- "$cur"))
    fi
}}
complete -o filenames -F _cnndsl cnndsl
"""


def zsh() -> str:
    return "autoload -U +X bashcompinit && bashcompinit\n" + bash()


def fish() -> str:
    commands = _commands()
    zoo, layers = _words()
    lines = ["# cnndsl completion for fish", "complete -c cnndsl -f",
             f"complete -c cnndsl -n __fish_use_subcommand -a '{' '.join(commands)}'"]
    for name, opts in commands.items():
        for o in opts:
            lines.append(f"complete -c cnndsl -n '__fish_seen_subcommand_from {name}' "
                         f"-l {o[2:]}")
    lines.append(f"complete -c cnndsl -n '__fish_seen_subcommand_from ops' "
                 f"-a '{' '.join(layers)}'")
    others = " ".join(n for n in commands if n != "ops")
    lines.append(f"complete -c cnndsl -n '__fish_seen_subcommand_from {others}' -F "
                 f"-a '{' '.join(zoo)}'")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    print({"bash": bash, "zsh": zsh, "fish": fish}[args.shell](), end="")
    return 0
