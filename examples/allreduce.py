"""One rank of examples/allreduce.sh: join the group the Slurm environment describes,
add up every rank's number, and check the sum."""

import os
import socket

import torch
import torch.distributed as dist

rank = int(os.environ["SLURM_PROCID"])
world = int(os.environ["SLURM_NTASKS"])
local = int(os.environ.get("SLURM_LOCALID", "0"))
gpu = torch.cuda.is_available() and bool(os.environ.get("CUDA_VISIBLE_DEVICES"))
device = torch.device("cuda", local % torch.cuda.device_count()) if gpu else torch.device("cpu")
dist.init_process_group(
    "nccl" if gpu else "gloo", rank=rank, world_size=world,
    init_method=f"tcp://{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}")
value = torch.tensor([float(rank + 1)], device=device)
dist.all_reduce(value)
expected = world * (world + 1) / 2
print(f"rank {rank} of {world} on {socket.gethostname()} ({device}): sum {value.item():g}, "
      f"expected {expected:g}", flush=True)
dist.destroy_process_group()
raise SystemExit(0 if value.item() == expected else 1)
