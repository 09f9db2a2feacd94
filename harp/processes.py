"""Several processes from one launcher (torchrun, `accelerate launch`, deepspeed, mpirun), read from the
environment they set, for the stages that do not go through the Trainer.

The Trainer joins its processes itself. Evaluation and GRPO validation only generate: with
`shard`/`gather_in_order` each process generates for every N-th record and all of them get every
prediction back in the original order, so N processes do the work once (not N times) and the main
process alone writes the files. The rank is read from the environment, so it is known before any
process group exists (for printing once).
"""

from __future__ import annotations

import atexit
import os
import socket

# torchrun/accelerate/deepspeed set RANK and WORLD_SIZE; mpirun (accelerate's multi-CPU launcher) its own.
RANK_VARIABLES = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK")
SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


def rank() -> int:
    """This process's rank in the launch (0 without a launcher)."""
    return int(next((os.environ[name] for name in RANK_VARIABLES if name in os.environ), "0"))


def world_size() -> int:
    """Processes in this launch (1 without a launcher)."""
    return int(next((os.environ[name] for name in SIZE_VARIABLES if name in os.environ), "1"))


def main_process() -> bool:
    """True on rank 0 of a launch, or in a single process: the one that prints and writes."""
    return rank() == 0


def start() -> str | None:
    """Join the launch's process group (gloo on a CPU, NCCL on GPUs); return this process's device.

    None in a single process (the loader's own choice applies)."""
    if world_size() == 1:
        return None
    import torch
    from accelerate import PartialState

    return str(PartialState(cpu=not torch.cuda.is_available()).device)


def leave_at_exit() -> None:
    """Leave the launch's process group when this process exits, while the interpreter is still whole;
    every process calls it once its command succeeded. Left to the interpreter's shutdown, Gloo's
    worker threads may still hold tensors when it tears down and abort the process (seen: `terminate
    called without an active exception`, SIGABRT on one rank of a two-process GRPO run that had
    finished its work). At exit, not at once: a launch may run several commands in one process (the
    DeepSpeed tests do), each needing the group. Not after an error: the other processes may still be
    inside a collective, and leaving could hang them."""
    if world_size() > 1:
        atexit.unregister(finish)  # once per process, however many commands it runs
        atexit.register(finish)


def finish() -> None:
    """Leave the process group this process joined, if any."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(items: list) -> list:
    """This process's share: every world_size-th item from its rank on (all of them in a single process)."""
    return items[rank() :: world_size()]


def gather_in_order(mine: list, total: int) -> list:
    """Every process's `shard` results, back in the original order, on every process."""
    if world_size() == 1:
        return list(mine)
    import torch.distributed as dist

    parts: list[list] = [[] for _ in range(world_size())]
    dist.all_gather_object(parts, list(mine))
    return [parts[i % len(parts)][i // len(parts)] for i in range(total)]


def free_port() -> int:
    """A TCP port free on this machine now, for a launch's rendezvous (another run may hold the default)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
