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
  computed (and pasted, encoded, held by the metric) only for those; then the evaluator's
  process / evaluate as in mmengine's `TestLoop`.

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

Cost: the backbone, RPN, box head and NMS run twice; masks only for the survivors, about 600 per
image at LVIS-val scale (12.0M over 19,809 images), every detection on a test set too small for
the cap to bind. Measured figures are in `configs/_base_/lvis-fixed-ap_test.py`. Memory of pass 1:
about 4 x C x K float32 (C classes; 163 MB at 1,203 x 10,000) plus one batch's detections, and
while the ranks merge, every rank's C x K table; pass 2's follows the image with the most
survivors (the mask head runs on all its RoIs at once).
"""
import logging
import time
from contextlib import contextmanager

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


class TopKPerClass:
    """The `k` highest scores of each of `num_classes` classes, in bounded memory.

    Scores arrive in batches (`add`); they wait in a buffer of about ``num_classes x k / 2``
    entries and are then merged, class by class, into a ``(num_classes, k)`` float32 table
    (unordered per row, -inf where a class has fewer than k; only as wide as the most scores of
    one class so far, so a k far above the detections costs nothing). `threshold` gives each class's k-th
    highest score, -inf for a class with fewer than k; `merge` combines the tables of several
    ranks. Peak memory: about 4 x num_classes x k float32 (table, buffer and its sort; 163 MB at
    1,203 x 10,000 over 40M scores, measured with tracemalloc; 6 s).

    Args:
        num_classes (int): labels are 0..num_classes-1.
        k (int): scores kept per class (>= 1).
        buffer (int, optional): scores buffered before a merge. Defaults to
            ``num_classes x k / 2``.
    """

    def __init__(self, num_classes, k, buffer=None):
        self.num_classes, self.k = int(num_classes), _whole_number('k', k)
        # The table is as wide as the most detections of one class so far (up to k), so that a
        # large k costs memory only when that many detections come.
        self.top = np.full((self.num_classes, min(self.k, 64)), -np.inf, np.float32)
        self.count = np.zeros(self.num_classes, np.int64)
        self.buffer = max(self.num_classes * min(self.k, 1 << 16) // 2, 1) if buffer is None \
            else int(buffer)
        self._labels, self._scores, self._pending = [], [], 0

    def add(self, labels, scores):
        """Add one batch of detections: integer labels and scores (any float dtype up to float32,
        converted exactly)."""
        labels = np.asarray(labels).reshape(-1).astype(np.int32)
        scores = np.asarray(scores, np.float32).reshape(-1)
        if len(labels) != len(scores):
            raise ValueError(f'{len(labels)} labels for {len(scores)} scores')
        if not len(labels):
            return
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f'labels must be in 0..{self.num_classes - 1}, got '
                             f'{labels.min()}..{labels.max()}')
        self.count += np.bincount(labels, minlength=self.num_classes)
        self._labels.append(labels)
        self._scores.append(scores)
        self._pending += len(labels)
        if self._pending >= self.buffer:
            self._flush()

    def _flush(self):
        if not self._pending:
            return
        labels, scores = np.concatenate(self._labels), np.concatenate(self._scores)
        self._labels, self._scores, self._pending = [], [], 0
        scores = scores[np.argsort(labels, kind='stable')]        # grouped by class
        counts = np.bincount(labels, minlength=self.num_classes)
        del labels
        ends = np.cumsum(counts)
        need = min(self.k, int(self.count.max()))
        if need > self.top.shape[1]:                               # widen, -inf in the new cells
            width = min(self.k, max(need, 2 * self.top.shape[1]))
            self.top = np.pad(self.top, ((0, 0), (0, width - self.top.shape[1])),
                              constant_values=-np.inf)
        width = self.top.shape[1]
        for c in np.flatnonzero(counts):                           # the classes with new scores
            row = np.concatenate([self.top[c], scores[ends[c] - counts[c]:ends[c]]])
            self.top[c] = np.partition(row, len(row) - width)[-width:]

    def merge(self, others):
        """This table and `others` (each a ``(top, count)`` pair, e.g. another rank's) as one."""
        self._flush()
        tops = [self.top] + [np.asarray(t, np.float32) for t, _ in others]
        self.top = _top_k_of_rows(np.concatenate(tops, axis=1), self.k)
        self.count = self.count + sum(np.asarray(c, np.int64) for _, c in others)
        return self

    def state(self):
        """``(top, count)``: what another rank merges."""
        self._flush()
        return self.top, self.count

    def threshold(self):
        """Per class: the k-th highest score seen; -inf for a class with fewer than k."""
        self._flush()
        return np.where(self.count >= self.k, self.top.min(axis=1), -np.inf).astype(np.float32)


def _whole_number(name, value):
    """`value` as an int >= 1, or a ValueError naming it (a string, a bool or 2.5 is refused, not
    compared or truncated)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{name} must be a whole number >= 1, not {value!r} '
                         f'({type(value).__name__})')
    if value < 1:
        raise ValueError(f'{name} must be a whole number >= 1, not {value}')
    return int(value)


def _top_k_of_rows(table, k):
    """The k largest values of each row (unordered)."""
    if table.shape[1] <= k:
        return table
    return np.partition(table, table.shape[1] - k, axis=1)[:, -k:]


def _merge_ranks(topk):
    """Every rank's table merged into `topk` (the same on every rank)."""
    top, count = topk.state()
    tops = all_gather(torch.from_numpy(top))
    counts = all_gather(torch.from_numpy(count))
    rank, _ = get_dist_info()
    others = [(t.cpu().numpy(), c.cpu().numpy())
              for i, (t, c) in enumerate(zip(tops, counts)) if i != rank]
    return topk.merge(others)


@contextmanager
def _replaced(obj, name, wrap):
    """`obj.name` is `wrap(obj.name)` inside the block (an instance attribute, removed after)."""
    own = vars(obj).get(name)
    setattr(obj, name, wrap(getattr(obj, name)))
    try:
        yield
    finally:
        if own is None:
            delattr(obj, name)
        else:
            setattr(obj, name, own)


def masks_off(roi_head):
    """Inside the block the RoI head returns its box results without running the mask head."""
    def no_masks(x, batch_img_metas, results_list, rescale=False):
        return results_list
    return _replaced(roi_head, 'predict_mask', lambda _: no_masks)


def score_thresholds(roi_head, thresholds, kept):
    """Inside the block each image keeps the detections whose score is >= its class's threshold,
    between the box head and the mask head; `kept` (int64, one per class) counts them."""
    thresholds = torch.as_tensor(thresholds, dtype=torch.float32)

    def wrap(predict_bbox):
        def thresholded(*args, **kwargs):
            results_list = predict_bbox(*args, **kwargs)
            out = []
            for res in results_list:
                thr = thresholds.to(res.scores.device)[res.labels]
                res = res[res.scores.float() >= thr]
                labels = res.labels.cpu().numpy()
                np.add(kept, np.bincount(labels, minlength=len(kept)), out=kept)
                out.append(res)
            return out
        return thresholded
    return _replaced(roi_head, 'predict_bbox', wrap)


def chunked_masks(roi_head, chunk):
    """Inside the block the mask head runs on at most `chunk` detections of an image at a time.

    mmdet's FCNMaskHead computes a 28 x 28 mask for every class of every RoI before keeping the
    RoI's own (at 1,203 classes 3.8 MB per RoI, so 600 detections of one image hold 2.3 GB), and
    Fixed AP keeps hundreds per image: chunks bound that. A RoI's mask does not depend on the
    other RoIs (per-RoI convolutions and normalisation), so the masks are the same."""
    def wrap(predict_mask):
        def chunked(x, batch_img_metas, results_list, rescale=False):
            if all(len(res) <= chunk for res in results_list):
                return predict_mask(x, batch_img_metas, results_list, rescale=rescale)
            out = []
            for i, res in enumerate(results_list):
                parts = []
                for lo in range(0, max(len(res), 1), chunk):
                    alone = [r[:0] for r in results_list]     # the other images: no RoIs
                    alone[i] = res[lo:lo + chunk]
                    parts.append(predict_mask(x, batch_img_metas, alone, rescale=rescale)[i])
                out.append(parts[0] if len(parts) == 1 else parts[0].cat(parts))
            return out
        return chunked
    return _replaced(roi_head, 'predict_mask', wrap)


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
    """

    def __init__(self, runner, dataloader, evaluator, fp16=False, max_dets_per_cat=None,
                 log_interval=None, mask_chunk=100):
        # checked before anything is built (the dataloader, the evaluator)
        self.max_dets_per_cat, self.mask_chunk, self.log_interval = (
            None if value is None else _whole_number(f'TopKTestLoop: {name}', value)
            for name, value in (('max_dets_per_cat', max_dets_per_cat),
                                ('mask_chunk', mask_chunk), ('log_interval', log_interval)))
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self.thresholds = None

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
                  f'{k} detections; masks for the {int(np.minimum(topk.count, k).sum())} '
                  'detections at or above their class\'s threshold (and ties)', 'current')
        for hook in self.runner.hooks:
            if isinstance(hook, IterTimerHook):
                hook.before_test_epoch(self.runner)         # pass 2's first iteration's time
        self.test_loss.clear()
        kept = np.zeros(topk.num_classes, np.int64)
        start = time.perf_counter()
        with score_thresholds(roi_head, self.thresholds, kept), \
                chunked_masks(roi_head, self.mask_chunk):
            for idx, data_batch in enumerate(self.dataloader):
                self.run_iter(idx, data_batch)
        self._check_pass_two(topk, kept, k, time.perf_counter() - start)
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

    def _check_pass_two(self, topk, kept, k, seconds):
        kept = torch.from_numpy(kept)
        all_reduce(kept)
        kept = kept.numpy()
        short = int(((topk.count >= k) & (kept < k)).sum())
        print_log(f'TopKTestLoop pass 2 of 2: {int(kept.sum())} detections kept with masks, '
                  f'{seconds:.1f} s', 'current')
        if short:
            print_log(f'TopKTestLoop: {short} classes reached {k} detections in pass 1 and '
                      'fewer in pass 2: the detector did not give the same scores twice '
                      '(nondeterministic kernels, e.g. env_cfg.cudnn_benchmark=True); their '
                      'Fixed AP may differ from one uncapped pass', 'current',
                      level=logging.WARNING)
