"""Run a two-process gloo job for the DDP tests, retrying once if a worker dies on a loaded machine."""

import os
import tempfile
import warnings

import torch
import torch.multiprocessing as mp


def run_gloo(worker, world: int = 2):
    """``worker(rank, world, init_file, out_file)`` in ``world`` spawned processes; returns ``torch.load(out_file)``.

    A gloo worker can abort on a heavily oversubscribed machine ("terminate called without an active
    exception"); the job is then run once more from scratch (a second failure is raised)."""

    def once():
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "params.pt")
            mp.start_processes(worker, args=(world, os.path.join(tmp, "init"), out), nprocs=world, join=True,
                               start_method="spawn")  # fmt: skip
            return torch.load(out)

    try:
        return once()
    except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:
        warnings.warn(f"first gloo run failed, retried once: {str(exc)[-300:]}", stacklevel=2)
        return once()
