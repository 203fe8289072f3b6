"""Weight initialisation schemes for conv and fully connected layers.

``default``: PyTorch's (Kaiming-uniform with a=sqrt(5)); ``he``: He et al. 2015, the
slides' "Xavier/2", N(0, 2/fan_in); ``xavier``: Glorot & Bengio 2010, uniform. Biases
become zero under ``he`` and ``xavier``; normalisation layers keep weight 1, bias 0.
``dirac``: PyTorch's, then each ungrouped convolution's first filters pass their input
channel through unchanged (identity at the kernel's centre; airbench94's init).
"""

from __future__ import annotations

import torch
from torch import nn

LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear,
          nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def apply_init(model: nn.Module, scheme: str) -> int:
    """Initialise ``model`` in place; the number of layers touched."""
    if scheme == "default":
        return 0
    count = 0
    with torch.no_grad():
        for m in model.modules():
            if not isinstance(m, LAYERS):
                continue
            if scheme == "dirac":
                if isinstance(m, nn.Conv2d) and m.groups == 1:
                    nn.init.dirac_(m.weight[:m.in_channels])
                    count += 1
                continue
            if scheme == "he":
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                raise ValueError(f"unknown init scheme {scheme!r}")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
            count += 1
    return count
