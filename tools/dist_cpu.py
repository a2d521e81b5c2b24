#!/usr/bin/env python
"""Run mmdet's train.py or test.py as one process of a multi-process CPU job (gloo backend).

    .venv/bin/torchrun --nproc-per-node 2 tools/dist_cpu.py train CONFIG [train.py options]
    .venv/bin/torchrun --nproc-per-node 2 tools/dist_cpu.py test CONFIG CHECKPOINT [options]

The command line of mmdet_lvis_fed/dist_cpu.py, whose docstring says why it is needed.
"""
from mmdet_lvis_fed.dist_cpu import main

if __name__ == '__main__':
    main()
