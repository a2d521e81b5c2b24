"""Multi-process CPU jobs (gloo backend): mmdet's train.py or test.py as one process of such a job
(the code of tools/dist_cpu.py, also `torchrun ... -m mmdet_lvis_fed.dist_cpu`), and the one way
the package and its tests start the processes of a local job themselves (`start_local_ranks`).

    .venv/bin/torchrun --nproc-per-node 2 tools/dist_cpu.py train CONFIG [train.py options]
    .venv/bin/torchrun --nproc-per-node 2 tools/dist_cpu.py test CONFIG CHECKPOINT [options]

mmdet's documented launches (`tools/dist_train.sh`, `mim train --launcher pytorch`) go through
mmengine's `init_dist`, which calls `torch.cuda.set_device` and stops on a CPU-only torch
(`torch._C._cuda_setDevice`), and then wrap the model with `device_ids=[LOCAL_RANK]`, which
DistributedDataParallel refuses for a CPU model. This wrapper creates the gloo process group from
torchrun's variables first (mmengine then uses it as it is), asks for the model wrapper without
device ids, and hands the rest of the command line to mmdet's own tool with `--launcher pytorch`.
On GPUs use mmdet's launch lines as they are (README).
"""
import os
import os.path as osp
import runpy
import sys

from .io import fail

def free_port():
    """A free TCP port on 127.0.0.1 for a local job's rendezvous (MASTER_PORT)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_local_ranks(command, world_size, env=None, rank_kwargs=None, **popen_kwargs):
    """Start the `world_size` processes of one gloo job on this machine, with the variables
    torchrun gives (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, one free
    MASTER_PORT) and OMP_NUM_THREADS=1, over `env` (default: this process's environment).
    `command` is the argument list of every rank, or a function of the rank that returns it;
    `popen_kwargs` go to subprocess.Popen, with `rank_kwargs(rank)` (a dict: a rank's own log
    file) over them. Returns the processes in rank order: the caller waits
    for them (or kills them)."""
    import subprocess
    port = str(free_port())
    procs = []
    for rank in range(world_size):
        rank_env = dict(os.environ if env is None else env, MASTER_ADDR='127.0.0.1',
                        MASTER_PORT=port, WORLD_SIZE=str(world_size), RANK=str(rank),
                        LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world_size),
                        OMP_NUM_THREADS='1')
        cmd = command(rank) if callable(command) else command
        kwargs = dict(popen_kwargs, **(rank_kwargs(rank) if rank_kwargs else {}))
        procs.append(subprocess.Popen(cmd, env=rank_env, **kwargs))
    return procs


WRAPPER = ['model_wrapper_cfg.type=MMDistributedDataParallel', 'model_wrapper_cfg.device_ids=None',
           'model_wrapper_cfg.broadcast_buffers=False']


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (['-h'], ['--help']):
        print(__doc__)
        raise SystemExit(0)
    usage = 'torchrun --nproc-per-node N tools/dist_cpu.py train|test CONFIG ...'
    if not argv or argv[0] not in ('train', 'test'):
        fail(f'{argv[0]!r} is not train or test (usage: {usage})' if argv else f'usage: {usage}')
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        fail(f'{", ".join(missing)} not set: this is one process of a job that torchrun starts '
             f'({usage})')
    tool, rest = argv[0], argv[1:]
    import torch.distributed as dist
    import mmdet
    script = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', f'{tool}.py')
    if not osp.isfile(script):
        fail(f'{script}: mmdet\'s {tool}.py is not installed')
    dist.init_process_group('gloo')       # MASTER_ADDR, RANK, WORLD_SIZE from torchrun
    if '--cfg-options' in rest:
        i = rest.index('--cfg-options') + 1
        rest[i:i] = WRAPPER
    else:
        rest += ['--cfg-options'] + WRAPPER
    sys.argv = [script] + rest + ['--launcher', 'pytorch']
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
