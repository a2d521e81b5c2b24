"""Run mmdet's train.py or test.py as one process of a multi-process CPU job (gloo backend):
the code of tools/dist_cpu.py (also `torchrun ... -m mmdet_lvis_fed.dist_cpu`).

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
