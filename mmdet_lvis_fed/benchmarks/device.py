"""Throughput and peak memory of a detector config on one device, from random weights and
generated images (no data set, no checkpoint): what `tools/benchmark_device.py` prints.

Training: `model.train_step` on batches of random images with a few generated instances each
(boxes, box-shaped masks, labels spread over all K classes, empty federated lists), the
optimizer of the config; test: `model.test_step` on the same images. The first iterations warm up
(cuDNN autotuning, allocator) and are not timed. Peak memory is the device's
`torch.cuda.max_memory_allocated` (on CPU the process's peak RSS, which includes everything the
process ever held). Random weights make the RPN's and the box head's outputs arbitrary, so test
throughput with a trained model may differ where the number of detections per image matters
(mask pasting): the figures are for comparing configs and devices, not a promise.

The evaluator part times `evaluation.federated_eval.evaluate` (box AP, lvis-api's protocol: 300
detections per image) on synthetic LVIS-val-sized data (`testing.synthetic`), which runs on the
CPU whatever the device.
"""
import time

import numpy as np

from ..procfs import own_peak_rss


def _sync(device):
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.synchronize(device)


def _peak_gib(device):
    import torch
    if str(device).startswith('cuda'):
        return torch.cuda.max_memory_allocated(device) / 2**30
    return own_peak_rss() / 2**30


def _reset_peak(device):
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.reset_peak_memory_stats(device)


def load_config(path):
    """The config at `path`, its custom imports done, with random weights (no pretrained
    backbone) and the model's K."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    cfg = Config.fromfile(path)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    if 'init_cfg' in cfg.model.get('backbone', {}):
        cfg.model.backbone.init_cfg = None
    return cfg


def num_classes(cfg):
    head = cfg.model.roi_head.bbox_head
    return head[-1]['num_classes'] if isinstance(head, list) else head['num_classes']


def make_batch(batch_size, image_size, k, device, seed=0, instances=5):
    """A batch as a dataloader gives it: uint8 images (W x H = image_size) and data samples with
    generated ground truth (boxes, box masks, labels spread over 0..k-1)."""
    import torch
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    w, h = image_size
    rng = np.random.default_rng(seed)
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append(torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8)))
        x1 = rng.uniform(0, w * 0.7, instances)
        y1 = rng.uniform(0, h * 0.7, instances)
        bw = rng.uniform(8, w * 0.3, instances)
        bh = rng.uniform(8, h * 0.3, instances)
        boxes = np.stack([x1, y1, np.minimum(x1 + bw, w), np.minimum(y1 + bh, h)], 1)
        masks = np.zeros((instances, h, w), np.uint8)
        for j, (a, b, c, d) in enumerate(boxes.astype(int)):
            masks[j, b:d, a:c] = 1
        gt = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                          labels=torch.tensor(rng.integers(0, k, instances)),
                          masks=BitmapMasks(masks, h, w))
        sample = DetDataSample(gt_instances=gt)
        sample.set_metainfo(dict(img_id=i, img_shape=(h, w), ori_shape=(h, w),
                                 scale_factor=(1.0, 1.0), neg_labels=[],
                                 not_exhaustive_labels=[]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def measure_model(cfg, image_size, batch_size, train_iters, test_iters, warmup, device):
    """{'train img/s', 'train peak GiB', 'test img/s', 'test peak GiB'} of cfg's model."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    k = num_classes(cfg)
    model = MODELS.build(cfg.model).to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = make_batch(batch_size, image_size, k, device)
    out = {}
    model.train()
    _reset_peak(device)
    for i in range(warmup + train_iters):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        model.train_step(batch, optim_wrapper)
    _sync(device)
    out['train img/s'] = batch_size * train_iters / (time.perf_counter() - start)
    out['train peak GiB'] = _peak_gib(device)
    model.eval()
    test_batch = dict(inputs=batch['inputs'][:1], data_samples=batch['data_samples'][:1])
    _reset_peak(device)
    with torch.no_grad():
        for i in range(warmup + test_iters):
            if i == warmup:
                _sync(device)
                start = time.perf_counter()
            model.test_step(test_batch)
    _sync(device)
    out['test img/s'] = test_iters / (time.perf_counter() - start)
    out['test peak GiB'] = _peak_gib(device)
    out['K'] = k
    return out


def measure_evaluator(num_images, dets_per_image=300, seed=0):
    """Seconds of box AP (lvis-api's protocol) on synthetic data of num_images images x
    dets_per_image detections, from inputs in memory, and the number of detections."""
    from ..evaluation.detections import Detections
    from ..evaluation.federated_eval import evaluate
    from ..evaluation.ground_truth import LVISGroundTruth
    from ..testing import synthetic
    gt = synthetic.make_ground_truth(num_images, seed=seed)
    cols = synthetic.make_detections(gt, dets_per_image, seed=seed + 1)
    ground_truth = LVISGroundTruth.from_dict(gt)
    dets = Detections(cols['image_id'], cols['category_id'], cols['score'], cols['bbox'], None)
    start = time.perf_counter()
    result = evaluate(ground_truth, dets, 'bbox')
    return time.perf_counter() - start, len(cols['score']), result
