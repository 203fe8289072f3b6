"""Batches for one epoch: which samples, in what order, on which device.

The order of an epoch and the augmentation of each step come from generators seeded by
(seed, epoch[, step]) alone, so an epoch can be replayed from any step (resume) and
every process of a distributed run agrees on the global batch; process ``rank`` of
``world`` takes samples ``rank::world`` of it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .augment import Augment
from .transform import Transform
from .types import ImageSet

# A resident set whose network-ready floats take at most this many bytes (and, on a GPU,
# a quarter of its free memory) is fitted to the network once (resized, scaled and, without augmentation, normalised), not every batch:
# the step then only gathers rows, as a hand-written loop on prepared tensors does.
FIT_ONCE_BYTES = 1 << 30
FIT_CHUNK = 4096  # images fitted at a time (bounds the temporary memory)


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers, well mixed (nearby inputs give unrelated seeds)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@dataclass
class Batch:
    x: torch.Tensor  # network input, on the device
    y: torch.Tensor  # labels, on the device
    size: int  # samples in the global batch (all processes)
    lam: float = 1.0  # mixup/CutMix: the weight of y; the rest goes to y.flip(0)

    @property
    def y2(self) -> torch.Tensor:
        """The labels of the images mixed in (:meth:`Augment.mix`)."""
        return self.y.flip(0)


class Feeder:
    """Turns an :class:`ImageSet` into device batches for training or evaluation.

    ``resident``: the whole set is copied to the device once (no per-batch host
    transfers); otherwise each batch is gathered on the host into pinned memory (when
    ``pin``) and copied with ``non_blocking``.
    """

    def __init__(self, images: ImageSet, transform: Transform, device: torch.device,
                 *, augment: Augment | None = None, resident: bool = True,
                 pin: bool = False, channels_last: bool = False,
                 world: int = 1, rank: int = 0) -> None:
        self.images = images
        self.transform = transform
        self.device = device
        self.augment = augment or Augment()
        self.pin = pin and device.type == "cuda" and not resident
        self.channels_last = channels_last
        self.world, self.rank = world, rank
        on_device = images.pixels.device == device
        if resident and not on_device:
            self.x = images.pixels.to(device)
            self.y = images.labels.to(device)
        else:
            self.x, self.y = images.pixels, images.labels
        self.resident = self.x.device == device
        self.fitted = self.normalized = False
        if self.resident:
            self._fit_once()

    def _fit_once(self) -> None:
        """Replace the stored images by network-ready ones when they fit (see
        :data:`FIT_ONCE_BYTES`); each image is transformed exactly as in a batch."""
        n, item = len(self.x), math.prod(self.transform.input_shape) * 4
        if n == 0 or n * item > FIT_ONCE_BYTES:
            return
        if self.device.type == "cuda" and n * item > 0.25 * torch.cuda.mem_get_info(self.device)[0]:
            return  # the residency decision counted the stored bytes; leave room to train
        parts = []
        for i in range(0, n, FIT_CHUNK):
            x = self.transform.geometry(self.x[i:i + FIT_CHUNK])
            parts.append(x if self.augment else self.transform.normalize(x))
        self.x = torch.cat(parts)
        self.fitted, self.normalized = True, not self.augment

    def ready(self, count: int) -> torch.Tensor:
        """The first ``count`` images as the network sees them, without augmentation."""
        x = self.x[:count].to(self.device)
        if not self.fitted:
            x = self.transform.geometry(x)
        return x if self.normalized else self.transform.normalize(x)

    def __len__(self) -> int:
        return len(self.images)

    def steps(self, batch_size: int, train: bool = False) -> int:
        """Batches per epoch. In training, a last batch too small to give every process
        two samples is dropped (batch norm cannot train on one sample)."""
        full, rest = divmod(len(self.images), batch_size)
        smallest = 2 * self.world if train else 1
        return full + (1 if rest >= smallest else 0)

    def order(self, seed: int, epoch: int, shuffle: bool) -> torch.Tensor:
        n = len(self.images)
        if not shuffle:
            return torch.arange(n)
        return torch.randperm(n, generator=torch.Generator().manual_seed(mix_seed(seed, epoch)))

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.resident:
            index = index.to(self.device, non_blocking=True)
            return self.x[index], self.y[index]
        if self.pin:
            xb = torch.empty((len(index), *self.x.shape[1:]), dtype=self.x.dtype,
                             pin_memory=True)
            torch.index_select(self.x, 0, index, out=xb)
            yb = self.y[index].pin_memory()
        else:
            xb, yb = self.x[index], self.y[index]
        return (xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True))

    def batches(self, batch_size: int, *, seed: int = 0, epoch: int = 0,
                shuffle: bool = False, train: bool = False,
                start: int = 0) -> Iterator[Batch]:
        """The batches of one epoch from step ``start`` on."""
        order = self.order(seed, epoch, shuffle)
        steps = self.steps(batch_size, train)
        g = torch.Generator()
        for step in range(start, steps):
            glob = order[step * batch_size:(step + 1) * batch_size]
            local = glob[self.rank::self.world]
            xb, yb = self.gather(local)
            x = xb if self.fitted else self.transform.geometry(xb)
            lam = 1.0
            if train and self.augment:
                g.manual_seed(mix_seed(seed, epoch, step, 1))
                offsets, flips = self.augment.draw(len(glob), g)
                sl = slice(self.rank, None, self.world)
                extra = self.augment.draw_extra(len(glob), g).take(sl)
                x = self.augment.apply(x, offsets[sl], flips[sl], extra)
            if not self.normalized:
                x = self.transform.normalize(x)
            if train and self.augment.mixes:
                x, lam = self.augment.mix(x, g)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield Batch(x, yb, len(glob), lam)
