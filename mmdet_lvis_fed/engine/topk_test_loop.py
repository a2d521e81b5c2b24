"""Fixed AP at any vocabulary: a test loop that runs the detector twice (two-pass top-K inference).

The LVIS challenge 2021 rule (lvis-api branch `lvis_challenge_2021`, Dave et al. 2021) keeps, per
category, the 10,000 highest-scoring detections over the whole test set, with no per-image cap.
mmdet cuts per image in `model.test_cfg.rcnn` (`score_thr`, `max_per_img`) and pastes a
full-image mask for every detection it keeps, so one pass that keeps "enough" per image either
cuts the tail of rare classes (1,203 classes share the per-image budget) or pastes masks for
detections the metric throws away. After large-vocab-devil's `lvdevil/infer_topk.py`:

* pass 1 of 2 runs the detector with the mask head off and keeps, per class, the
  `max_dets_per_cat` highest box scores over this rank's images (`TopKPerClass`, bounded memory);
  the ranks' top-K are merged (`mmengine.dist.all_gather`) into one threshold per class: its
  `max_dets_per_cat`-th highest score, -inf for a class with fewer detections;
* pass 2 of 2 runs the detector again over every test image; between the box head and the mask
  head each image keeps the detections whose score is >= their class's threshold, so masks are
  computed (and pasted, encoded, held by the metric) only for those, and with `masks='evaluated'`
  only for those the metric compares with a ground-truth mask (`pass_two_masks.py`); then the
  evaluator's process / evaluate as in mmengine's `TestLoop`.

Why this equals one uncapped pass scored under the caps. A detection's box and score come out of
the box head and its NMS, which see the same proposals in both passes and in an uncapped run; the
filter runs after NMS (large-vocab-devil thresholds the scores before NMS: mmcv's `batched_nms`
offsets boxes by the largest coordinate of the boxes it is given, so its float IoUs, and with them
its decisions and the order of equal scores, could depend on which others survive). The filter
keeps each image's detections in their order. So pass 2 hands the metric, in the results' order,
exactly the uncapped run's detections with score >= their class's threshold: every detection of
each class's top `max_dets_per_cat`, plus every one tied with the last. The metric's own
per-category cut (`evaluation/limits.py`: lvis-api's stable sort, the earlier in the results wins
a tie) then keeps the same detections as it keeps from the uncapped run. The metric must apply
that cut (`max_dets_per_cat` > 0, at most the loop's) and no per-image cap (`max_dets=-1`):
`run` refuses an evaluator that does not.

Where the two passes cannot see the same tie: only where the detector does not compute the same
score twice. On CPU, and on GPU with deterministic kernels, the scores of pass 1 and pass 2 are
bit-identical. With `env_cfg.cudnn_benchmark=True` or other nondeterministic kernels a score can
move by an ulp between the passes: a detection at the threshold can then drop out of pass 2 (its
class gets one detection fewer than the uncapped run would give the metric), or one just below
can come in (harmless: the metric cuts it). The loop counts, after pass 2, the classes that pass 1
saw reach `max_dets_per_cat` and pass 2 left short, and warns with their number. Masks are
computed on the survivors only, so the mask head sees a smaller batch of RoIs than in an uncapped
run; its per-RoI outputs do not depend on the others (convolutions and GroupNorm per RoI), and a
difference in the last bit matters only for a mask probability within an ulp of
`mask_thr_binary`.

What the config needs (`configs/_base_/lvis-fixed-ap_test.py`): `model.test_cfg.rcnn.max_per_img
= -1` (no per-image cap; `run` refuses a positive one, which would cut each image's tail before
either pass) and `score_thr` as low as the protocol wants (detections at or below it never exist;
the piece keeps every score > 0). The loop works for every detector whose RoI head predicts boxes
with `predict_bbox` and then masks with `predict_mask` on them (mmdet's `StandardRoIHead`,
`CascadeRoIHead`, ...); box-only detectors work too (pass 2 then saves nothing but the metric's
memory). Test-time augmentation (`DetTTAModel`) is refused: its merge would follow the filter.

Hooks. Pass 2 is the test epoch the hooks see: `before_test_iter` / `after_test_iter` with its
outputs (`--out`'s `DumpDetResults` is a metric and gets pass 2's detections, the visualization
hook draws them, the logger logs them). Pass 1 calls no iteration hook and logs its own progress
lines (pass 1 of 2, images done / total, elapsed); it runs after `before_test_epoch`, because hooks
prepare the model there (`EMAHook` swaps in the averaged weights), so both passes use the same
weights; the iteration timer (`IterTimerHook`) is restarted after it, so that pass 2's first
iteration does not carry pass 1's time.

Distributed runs: mmengine's `DefaultSampler` pads the test set with repeats of its first images
to a multiple of the world size (the evaluator drops them when it collects). Pass 1 leaves the
padded samples out of the top-K, or a repeated image would count twice in its classes' thresholds.

Cost: the backbone, RPN, box head and NMS run twice; the mask head only on the survivors (about
600 per image at LVIS-val scale: 12.0M over 19,809 images) and, with `masks='evaluated'`, only on
those of a class annotated on their image. Measured figures are in
`configs/_base_/lvis-fixed-ap_test.py`. Memory of pass 1: about 4 x C x K float32 (C classes;
163 MB at 1,203 x 10,000) plus one batch's detections, and while the ranks merge, every rank's
C x K table; pass 2's follows the image with the most masks computed (the mask head runs on
`mask_chunk` RoIs at a time) and the metric's RLE of every kept detection.
"""
import logging
import time
from contextlib import ExitStack

import numpy as np
import torch
from mmengine.dist import all_gather, all_reduce, get_dist_info
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import DumpResults
from mmengine.hooks import IterTimerHook, LoggerHook
from mmengine.logging import print_log
from mmengine.runner import TestLoop, autocast
from mmengine.runner.loops import _parse_losses

from mmdet.registry import LOOPS

from ..wrappers import unwrap_model
from . import pass_two_masks
from .roi_head_filters import chunked_masks, masks_off, score_thresholds
from .topk_per_class import TopKPerClass, whole_number


def _merge_ranks(topk):
    """Every rank's table merged into `topk` (the same on every rank)."""
    top, count = topk.state()
    tops = all_gather(torch.from_numpy(top))
    counts = all_gather(torch.from_numpy(count))
    rank, _ = get_dist_info()
    others = [(t.cpu().numpy(), c.cpu().numpy())
              for i, (t, c) in enumerate(zip(tops, counts)) if i != rank]
    return topk.merge(others)


def _padded_tail(dataloader):
    """How many of this rank's last samples repeat earlier images to pad the test set."""
    rank, world_size = get_dist_info()
    if world_size == 1:
        return 0
    sampler = dataloader.sampler
    if not isinstance(sampler, DefaultSampler):
        raise TypeError(f'TopKTestLoop over {world_size} processes needs mmengine\'s '
                        f'DefaultSampler (it knows which samples pad the test set), not '
                        f'{type(sampler).__name__}')
    if not sampler.round_up:
        return 0
    # DefaultSampler gives rank r the positions r, r + W, r + 2W, ... of a list whose positions
    # from len(dataset) on repeat its first images.
    n = len(sampler.dataset)
    return sum(1 for i in range(sampler.num_samples) if i * world_size + rank >= n)


@LOOPS.register_module()
class TopKTestLoop(TestLoop):
    """Test loop for Fixed AP: two passes, masks only for each class's top `max_dets_per_cat`.

    See the module's docstring for the rule, the hooks each pass calls, ties and distributed
    runs. Config: ``test_cfg = dict(type='TopKTestLoop', max_dets_per_cat=10000)`` with
    ``model.test_cfg.rcnn.max_per_img=-1`` and an ``LVISFedMetric(max_dets=-1,
    max_dets_per_cat=10000)`` (``configs/_base_/lvis-fixed-ap_test.py``).

    Args:
        runner, dataloader, evaluator, fp16: as mmengine's ``TestLoop``.
        max_dets_per_cat (int, optional): detections kept per class over the test set; at least
            every metric's ``max_dets_per_cat``. Defaults to None: the largest metric's.
        log_interval (int, optional): pass 1 logs its progress every this many iterations.
            Defaults to None: the logger hook's interval (50 without one).
        mask_chunk (int): pass 2 runs the mask head on at most this many detections of an image
            at a time (`chunked_masks`: bounded memory at 1,203 classes). Defaults to 100.
        masks (str): 'evaluated': where only `LVISFedMetric` reads the masks, compute them only
            for the detections it compares with ground truth, those of a class annotated on
            their image (the same numbers; `pass_two_masks.py`); 'all': every kept detection.
            Either way every detection gets masks where a dump, another metric or a drawing hook
            reads them. Defaults to 'evaluated'.
    """

    def __init__(self, runner, dataloader, evaluator, fp16=False, max_dets_per_cat=None,
                 log_interval=None, mask_chunk=100, masks='evaluated'):
        # checked before anything is built (the dataloader, the evaluator)
        self.max_dets_per_cat, self.mask_chunk, self.log_interval = (
            None if value is None else whole_number(f'TopKTestLoop: {name}', value)
            for name, value in (('max_dets_per_cat', max_dets_per_cat),
                                ('mask_chunk', mask_chunk), ('log_interval', log_interval)))
        if masks not in pass_two_masks.MASKS:
            raise ValueError(f'TopKTestLoop: masks must be one of {pass_two_masks.MASKS}, not '
                             f'{masks!r}')
        self.masks = masks
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self.thresholds = None
        self.masks_computed = None        # this rank's, where only some detections get one

    def run(self) -> dict:
        """Pass 1 (thresholds), then the test epoch (pass 2) as mmengine's ``TestLoop.run``.

        ``TestLoop.run`` is spelled out rather than called: pass 1 must run after the
        ``before_test_epoch`` hooks (which prepare the weights) and before pass 2's iteration."""
        roi_head = self._roi_head()
        k = self._checked_k()
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        topk = self._pass_one(roi_head, k)
        self.thresholds = topk.threshold()
        full = topk.count >= k
        print_log(f'TopKTestLoop pass 2 of 2: {int(full.sum())} of {len(full)} classes reached '
                  f'{k} detections; keeping the {int(np.minimum(topk.count, k).sum())} '
                  'detections at or above their class\'s threshold (and ties)', 'current')
        for hook in self.runner.hooks:
            if isinstance(hook, IterTimerHook):
                hook.before_test_epoch(self.runner)         # pass 2's first iteration's time
        self.test_loss.clear()
        kept = np.zeros(topk.num_classes, np.int64)
        rle, annotated, why = pass_two_masks.plan(self.evaluator, self.runner.hooks, self.masks)
        print_log(f'TopKTestLoop pass 2 of 2: {why}', 'current')
        computed = np.zeros(1, np.int64)
        start = time.perf_counter()
        with ExitStack() as stack:
            stack.enter_context(score_thresholds(roi_head, self.thresholds, kept))
            stack.enter_context(chunked_masks(roi_head, self.mask_chunk))
            pass_two_masks.enter(stack, roi_head, rle, annotated, computed)
            for idx, data_batch in enumerate(self.dataloader):
                self.run_iter(idx, data_batch)
        self.masks_computed = None if annotated is None else int(computed[0])
        self._check_pass_two(topk, kept, k, time.perf_counter() - start, self.masks_computed)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.test_loss:
            metrics.update(_parse_losses(self.test_loss, 'test'))
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

    def _roi_head(self):
        model = unwrap_model(self.runner.model)
        roi_head = getattr(model, 'roi_head', None)
        if not (hasattr(roi_head, 'predict_bbox') and hasattr(roi_head, 'predict_mask')):
            raise TypeError(f'TopKTestLoop needs a two-stage detector whose roi_head has '
                            f'predict_bbox and predict_mask (mmdet\'s StandardRoIHead, '
                            f'CascadeRoIHead, ...); {type(model).__name__} has none '
                            '(test-time augmentation is not supported)')
        cap = (getattr(roi_head, 'test_cfg', None) or {}).get('max_per_img', -1)
        if cap is not None and cap > 0:
            raise ValueError(f'TopKTestLoop: model.test_cfg.rcnn.max_per_img={cap} cuts each '
                             'image\'s detections before the per-class top-K: set it to -1, as '
                             'fixed_ap_test_cfg in configs/_base_/lvis-fixed-ap_test.py does')
        return roi_head

    def _checked_k(self):
        """The loop's K, checked against every metric's caps (dumps are exempt)."""
        caps = []
        for metric in self.evaluator.metrics:
            if isinstance(metric, DumpResults):
                continue
            name = type(metric).__name__
            per_cat = getattr(metric, 'max_dets_per_cat', None)
            if per_cat is None or per_cat < 1 or getattr(metric, 'max_dets', -1) >= 0:
                raise ValueError(
                    f'TopKTestLoop: {name} must cut per category and not per image '
                    f'(max_dets_per_cat > 0 and max_dets=-1, as LVISFedMetric does for Fixed AP;'
                    f' got max_dets_per_cat={per_cat}, max_dets={getattr(metric, "max_dets", None)}'
                    '): the loop hands it only each class\'s top detections')
            caps.append(int(per_cat))
        k = self.max_dets_per_cat if self.max_dets_per_cat is not None else max(caps, default=0)
        if k < 1:
            raise ValueError('TopKTestLoop: give max_dets_per_cat, or a metric that has one')
        if caps and max(caps) > k:
            raise ValueError(f'TopKTestLoop: max_dets_per_cat={k} is below the metric\'s '
                             f'{max(caps)}: the metric would miss detections it keeps')
        return k

    def _interval(self):
        if self.log_interval is not None:
            return self.log_interval
        hooks = [h for h in self.runner.hooks if isinstance(h, LoggerHook)]
        return hooks[0].interval if hooks else 50

    @torch.no_grad()
    def _pass_one(self, roi_head, k):
        """Each class's top-k box scores over the test set (every rank's merged)."""
        num_classes = len(self.dataloader.dataset.metainfo['classes'])
        topk = TopKPerClass(num_classes, k)
        real = len(self.dataloader.sampler) - _padded_tail(self.dataloader)
        total, interval, seen = len(self.dataloader), self._interval(), 0
        start = time.perf_counter()
        with masks_off(roi_head):
            for idx, data_batch in enumerate(self.dataloader):
                with autocast(enabled=self.fp16):
                    outputs = self.runner.model.test_step(data_batch)
                for sample in outputs:
                    if 'pred_instances' not in sample:       # a test loss, not an image
                        continue
                    if seen < real:
                        pred = sample.pred_instances
                        topk.add(pred.labels.cpu().numpy(), pred.scores.float().cpu().numpy())
                    seen += 1
                if (idx + 1) % interval == 0 or idx + 1 == total:
                    print_log(f'TopKTestLoop pass 1 of 2 (box scores, masks off): '
                              f'[{idx + 1}/{total}] {min(seen, real)} images, '
                              f'{time.perf_counter() - start:.1f} s', 'current')
        return _merge_ranks(topk)

    def _check_pass_two(self, topk, kept, k, seconds, computed=None):
        kept = torch.from_numpy(kept)
        all_reduce(kept)
        kept = kept.numpy()
        short = int(((topk.count >= k) & (kept < k)).sum())
        if computed is None:
            print_log(f'TopKTestLoop pass 2 of 2: {int(kept.sum())} detections kept with masks, '
                      f'{seconds:.1f} s', 'current')
        else:
            computed = torch.tensor([computed])
            all_reduce(computed)
            print_log(f'TopKTestLoop pass 2 of 2: {int(kept.sum())} detections kept, '
                      f'{int(computed)} masks computed (the others empty), {seconds:.1f} s',
                      'current')
        if short:
            print_log(f'TopKTestLoop: {short} classes reached {k} detections in pass 1 and '
                      'fewer in pass 2: the detector did not give the same scores twice '
                      '(nondeterministic kernels, e.g. env_cfg.cudnn_benchmark=True); their '
                      'Fixed AP may differ from one uncapped pass', 'current',
                      level=logging.WARNING)
