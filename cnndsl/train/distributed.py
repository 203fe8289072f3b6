"""Several processes (torchrun): who am I, and summing numbers across processes.

``torchrun --nproc_per_node=N -m cnndsl train ...`` sets WORLD_SIZE, RANK and
LOCAL_RANK; the trainer then joins a process group (NCCL on GPUs, gloo on CPUs),
shards every global batch, and lets rank 0 alone write files.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    size: int = 1
    rank: int = 0
    local_rank: int = 0
    owns_group: bool = False  # True when we created the process group (and end it)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def sum_(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` in place over all processes (a no-op in one process)."""
        if self.size > 1:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def close(self) -> None:
        """End the process group we made, once every process is done with it (a process
        that left first would tear down the connections another is still using)."""
        if self.owns_group and dist.is_initialized():
            # A DistributedDataParallel wrapper still alive in a reference cycle would be
            # freed by a later collection, after the group is gone: its reducer then
            # aborts the process. Free it now.
            gc.collect()
            dist.barrier()
            dist.destroy_process_group()


def env_world() -> tuple[int, int, int]:
    """(WORLD_SIZE, RANK, LOCAL_RANK) from the environment torchrun sets."""
    def num(name: str, default: int) -> int:
        try:
            return int(os.environ.get(name, default))
        except ValueError:
            return default

    return num("WORLD_SIZE", 1), num("RANK", 0), num("LOCAL_RANK", 0)


def join(device_type: str) -> World:
    """Join (or reuse) the process group when launched with WORLD_SIZE > 1."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_world_size(), dist.get_rank(), env_world()[2])
    size, rank, local = env_world()
    if size <= 1:
        return World()
    if device_type == "cuda":
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return World(size, rank, local, owns_group=True)
