# Testing under the LVIS challenge 2021 protocol: Boundary AP as Fixed AP (at most 10,000
# detections per category over the whole test set, no per-image cap; Dave et al. 2021), with box
# and mask Fixed AP and AP-pool beside it. Use it beside an experiment config, in a child that
# applies its two values (mmengine refuses a key that two bases both define, and every experiment
# config defines `model` and `test_evaluator`, so this piece names them differently):
#
#     _base_ = ['./mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py',
#               '../_base_/lvis-fixed-ap_test.py']
#     model = dict(test_cfg=_base_.fixed_ap_test_cfg)
#     test_evaluator = _base_.fixed_ap_evaluator
#
# then `mim test mmdet CHILD.py --checkpoint CKPT`. The metric applies the caps itself; the model
# must first produce enough detections per class, and mmdet cuts them per image in
# `model.test_cfg` (Mask R-CNN: rcnn.score_thr 0.05 and max_per_img 100 by default; 0.0001 and
# 300 in LVIS configs). This piece keeps every score (score_thr 0) and up to 1,000 detections per
# image from 1,000 proposals. That reaches 10,000 per class for a subset of a few classes: the
# per-image cap leaves each of K classes about 1,000 / K per image, so a test set of
# 10 x K images or more can fill every class, and the detections it cuts are each image's
# lowest-scoring ones. It cannot for the full 1,203-class vocabulary: 1,000 per image across
# 1,203 classes go to the frequent ones, and the tail of the rare ones is cut before the metric
# sees it. What would: large-vocab-devil's two-pass top-K inference (`lvdevil/infer_topk.py`):
# one pass (masks off) finds each class's 10,000th score over the test set, a second keeps every
# detection above its class's threshold with no per-image cap and computes masks only for those.
#
# Cost, measured with the long-tail demo baseline (R18, 24 classes, 160 x 160 images) on 40 test
# images, one CPU thread, `mim test` with and without this piece: 10.3 s per image instead of
# 0.68 (15x: mmdet computes and pastes a full-image mask for each of up to 1,000 detections per
# image, and the metric RLE-encodes them) and a peak RSS of 2.0 GB instead of 0.69 GB (the metric
# keeps every detection's compressed mask until the end, about 400 bytes each). On full-size images
# the pasting grows with the pixels (a 640 x 480 image holds up to 1,000 x 0.3 MB of boolean masks
# at once). Evaluating is the cheap part: 12 million boxes (LVIS val, 10,000 per class) take about
# a minute and 6 GiB (tools/README.md).
fixed_ap_test_cfg = dict(
    rpn=dict(nms_pre=1000, max_per_img=1000),
    rcnn=dict(score_thr=0.0, max_per_img=1000))
fixed_ap_evaluator = dict(
    metric=['bbox', 'segm', 'boundary'], max_dets=-1, max_dets_per_cat=10000, pooled=True)
