"""The catalogue of diagnostic codes: what each means (and, where one is known, the
usual fix or the bound that raised it). docs/errors.md's tables are generated from it
(``python -m cnndsl.catalogue docs/errors.md``; a test checks they agree), and every code
the compiler emits is here (tests/test_docs.py).
"""

from __future__ import annotations

import re
import sys

# section key -> (column headings after "code", {code: cells})
SECTIONS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    'syntax': (('meaning', 'typical fix'), {
        'E0001': ('unexpected token: the parser expected something else here', 'the help lists what may come next'),
        'E0002': ('a character that is not part of the language (`;`, `$`, ...)', 'separate layers with `-`, `->`, `,` or a line break'),
        'E0003': ('an opening `(`, `[` or `{` is never closed (reported where it opens)', 'close it where the group ends'),
        'E0004': ('two layers with no separator between them (`conv relu`)', 'join them with `-`, `->` or `,`'),
        'E0005': ('the input ends in the middle of an expression (`conv -`)', 'finish the chain'),
        'E0006': ('a closing bracket with no opening one, or of the wrong kind', 'remove it or match the brackets'),
        'E0007': ('a `block name:` header with no body', 'write the body on the following lines'),
        'E0008': ('two networks in one file, layers outside the network section, a preset defined twice or in a file without a network', 'one network per file (its configurations are `preset` lines); `import` shared blocks'),
        'E0009': ('`input` inside a block', '`input` belongs to the network'),
        'E0010': ('the file defines blocks but no network', 'add the layers or a `network` section'),
    }),
    'names_arguments_values': (('meaning',), {
        'E0101': ('unknown layer or block (with a "did you mean")',),
        'E0102': ('an argument name the layer does not have (`conv(64, strde=2)`)',),
        'E0103': ('too many positional arguments, or branches given with `,` instead of `\\|`',),
        'E0104': ('a value of the wrong type: a width that is not a whole number (`fc(2.5)`, `fc(16/3)`), a string where a number is needed, ...',),
        'E0105': ('a value out of range: zero or negative stride, zero channels, dropout p > 1, an unknown padding mode, ...',),
        'E0106': ('the same argument given twice',),
        'E0107': ('a number where a layer is expected (or the reverse), `+` between layers, a negated layer',),
        'E0108': ('parallel branches `a \\| b` outside a merge',),
        'E0109': ('a repeat count that is not a whole number, or negative',),
        'E0110': ('a required argument is missing (`adaptiveavgpool` needs `size`)',),
        'E0112': ('`X as name` where `name` is already a parameter or block argument',),
        'E0113': ('an `aux()` head with no layers',),
        'E0114': ('a number that is not finite or does not fit in 64 bits: a literal such as `1e309` or `99999999999999999999`, an argument such as `eps=1e308*10`, arithmetic that overflows',),
    }),
    'parameters_and_arithmetic': (('meaning',), {
        'E0201': ('a parameter has no value: bind it with `--set N=3`, `bindings={"N": 3}`, or a default in the header',),
        'E0202': ('division by zero in an integer expression',),
        'E0203': ('`in_c`, `in_h`, `in_w` used outside a block, or `in_h` of a vector',),
        'E0204': ('an unknown preset (`compile(path, preset=...)`), or a preset binding a name that is not a parameter of the network',),
        'E0205': ('a parameter\'s range or choices are wrong: an empty range (`5..1`), a range end that is not a whole number (`1.5..3`: list such values as choices), a default outside them (`N=7 in 1..5`), a range on a block\'s parameter',),
        'W0201': ('a `--set` binding the network does not use (a misspelt parameter or optional part)',),
        'W0202': ('a binding (`--set`, `bindings=`, a preset) outside the parameter\'s declared range or choices: a network outside the family',),
    }),
    'shapes': (('meaning',), {
        'E0301': ('a window (kernel) larger than its (padded) input',),
        'E0302': ('an output size of zero or less',),
        'E0303': ('channels not divisible by `groups`',),
        'E0304': ('a layer that needs a feature map given a vector (a conv after an fc)',),
        'E0305': ('pooling padding that PyTorch does not allow (asymmetric, or more than half the window)',),
        'E0306': ("concatenated branches of different spatial size (each branch's shape is listed)",),
        'E0307': ('added or multiplied branches of different shapes, or a residual body whose shape no shortcut can follow',),
        'W0301': ("a window that does not fit: real input pixels are never seen. Silent when only padding is lost (ResNet's 7x7/2 stem on 224) and when the windows skip pixels by design (a 1x1 conv at stride 2). The label shows the slides' arithmetic; the help suggests a padding, a stride or an input size that fits.",),
    }),
    'blocks_and_imports': (('meaning',), {
        'E0401': ('a block called with the wrong arguments (too many, an unknown name, a missing one); also misuse of `if()` and math functions',),
        'E0402': ('a block that calls itself, directly or through others (the call chain is shown)',),
        'E0403': ('an `import` whose file cannot be found',),
        'E0404': ('an import cycle (a file that imports itself, directly or indirectly)',),
        'E0405': ('a block defined twice in one file (names are read as Python reads them: `ｂ` is `b`), or named like a built-in layer',),
        'E0406': ("an import outside the folders imports may read (the main file's folder tree, the zoo, `--include` folders): an absolute path or a `..` that leaves them",),
        'E0407': ('imports nested deeper than the limit, or more imported text than the limit',),
        'E0408': ('an import that names something other than a `.cnn` file (a directory, a device, another kind of file)',),
    }),
    'input': (('meaning',), {
        'E0501': ('an input shape that is not `CxHxW` or `F` with positive integers, or given twice',),
        'W0501': ('an input that looks channels-last (`input 32x32x3`: 32 channels of 32x3 pixels); shapes are `CxHxW`',),
    }),
    'analyses': (('meaning',), {
        'W0601': ('branches merged with misaligned receptive-field centres',),
    }),
    'structure': (('meaning',), {
        'W0701': ("layers whose output never reaches the network's output (a chain continued from a named tensor discards what came before it); they are left out",),
        'W0702': ("a `droppath` whose output is not added to a shortcut (outside a residual branch): in training it would drop a sample's whole signal",),
    }),
    'lint': (('meaning', 'typical fix'), {
        'W0801': ('a part of a family that no member builds: a branch of `if` or a repetition whose test or count reads a ranged parameter (`if(K > 2, fc(64))` with `K in 0..2`, `X*(K*0)`), judged over every member that compiles (2,000 sampled in a larger family; the message says how many failed or were not sampled); a call of a one-layer block counts where it is written', 'widen a range so that a member builds it, or remove it'),
        'W0802': ("a convolution or fully connected layer with a bias whose only reader is a batch norm: the norm subtracts each channel's mean, the bias with it", '`bias=false` (the norm\'s shift takes its place; after `bn(affine=false)`, which has none, drop the bias all the same or give the norm its shift)'),
        'W0803': ('a bottleneck narrower than the classes: the class scores are computed from a vector with fewer features than `classes`, made by a layer that narrowed the main path (the layers every path to the output goes through; the first layer, branches and attention gates do not count)', 'make it at least `classes` wide'),
        'W0804': ("a fully connected layer on a flattened map larger than 1x1 that holds more than half of the network's parameters (the slides: most parameters are in the late FC layers)", 'global average pooling before it (`gap - fc`), or fewer features'),
        'W0805': ("the map that global pooling turns into the classifier's features has a receptive field smaller than the input's shorter side, `min(H, W)` (pooling along a spectrogram's long axis is meant; a flatten keeps positions apart and is exempt); the message gives both sizes", 'more 3x3 convolutions, or a stride or pooling earlier'),
        'W0806': ('an activation (relu, sigmoid, tanh, ...) on the class scores, after the final classifier layer; softmax and a constant scale are fine', 'remove it: the loss applies the softmax to the logits'),
        'W0807': ('the map discarded before the network has looked at it: a layer that brings it to 1/16 of the input\'s area or less before any convolution of 3 or more pixels (a learned stem whose kernel covers its stride, AlexNet\'s 11x11/4 or a 4x4/4 patchify, is exempt), or a pooling that shrinks the area 16x or more in one step while the map is still at least a quarter of the input\'s area', 'a 3x3 convolution first; shrink by 2 at a time'),
        'W0808': ('a residual branch with no batch, group or layer norm where most of the residual branches of its kind (at least two; on feature maps, or on vectors as in a residual MLP head) have one', 'add the norm its siblings have, or `# allow W0808` for a deliberate norm-free block'),
    }),
    'passes': (('meaning', 'typical fix'), {
        'E0901': ('a pass given with `--pass` (or to `cnndsl.passes.run`/`analyze`) raised an exception, or returned the wrong kind of value: a rewrite something other than a `Graph`, an analysis something other than a mapping of node names (the message names the pass; the help, where it failed)', 'fix the pass: the error is in its code, not in the network'),
        'E0902': ("a rewrite returned a malformed graph: a node used before it is defined, a duplicate name, an output that is not a node, an unknown operator, the wrong number of inputs, a missing, unknown or wrongly typed attribute", "rewire the readers of a node you remove (and the graph's output) to its input; keep nodes in topological order"),
        'E0903': ("a rewrite broke the shapes: a layer's shape rule refuses the inputs it gets after the pass (a residual add of 16 and 8 channels after a conv was widened); reported at that layer, naming the pass", 'change the layers after it too, or keep the widths'),
    }),
    'notes': (('meaning',), {
        'N0001': ('no input shape given: 3x32x32 is assumed',),
        'N0402': ('a bare `FC` that ends the network (or an `aux()` head) is the classifier: it has `classes` units',),
        'N0401': ('a softmax whose input is not the class scores: `fc(classes)` was added before it',),
    }),
    'limits': (('meaning', 'bound (default)'), {
        'E0011': ('brackets nested too deeply (or a program nested too deeply to compile)', '`nesting` (100)'),
        'E0012': ('a file that is not valid UTF-8: the first bad byte, at its line and column', ''),
        'E0013': ('source text longer than the limit', '`source_bytes` (8 MiB)'),
        'E0111': ('a network with more layers than the limit, found from the first iteration of a repeat before the rest is built; or more expansion steps than the limit', '`nodes` (10,000), `steps` (50,000)'),
        'E0115': ('a tensor with more elements per sample than the limit (`fc(10**12)`, a huge input)', '`elements` (2^31)'),
        'E0116': ('a network with more parameters than the limit', '`params` (10^11)'),
        'E0117': ('100 errors reported: the rest of the program is not checked', ''),
    }),
}


def table(key: str) -> str:
    """One section's Markdown table."""
    heads, rows = SECTIONS[key]
    lines = ["| code | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    lines += [f"| {code} | " + " | ".join(cells) + " |" for code, cells in rows.items()]
    return "\n".join(lines)


def codes() -> set[str]:
    """Every catalogued code."""
    return {code for _, rows in SECTIONS.values() for code in rows}


def meaning(code: str) -> str | None:
    """What ``code`` means, or None for a code that is not catalogued."""
    return next((rows[code][0] for _, rows in SECTIONS.values() if code in rows), None)


_GENERATED = re.compile(r"(<!-- generated from cnndsl/catalogue.py \((\w+)\)[^\n]*-->\n)"
                        r"(.*?)(\n<!-- end of generated table -->)", re.S)


def render(doc: str) -> str:
    """``doc`` (docs/errors.md) with every generated table written afresh."""
    return _GENERATED.sub(lambda m: m.group(1) + table(m.group(2)) + m.group(4), doc)


if __name__ == "__main__":  # python -m cnndsl.catalogue docs/errors.md
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python -m cnndsl.catalogue docs/errors.md")
    path = sys.argv[1]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(text))
