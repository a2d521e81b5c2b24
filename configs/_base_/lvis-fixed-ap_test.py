# Testing under the LVIS challenge 2021 protocol: Boundary AP as Fixed AP (at most 10,000
# detections per category over the whole test set, no per-image cap; Dave et al. 2021), with box
# and mask Fixed AP and AP-pool beside it, at any vocabulary. Use it beside an experiment config,
# in a child that applies its three values (mmengine refuses a key that two bases both define, and
# every experiment config defines `test_cfg`, `model` and `test_evaluator`, so this piece names
# them differently):
#
#     _base_ = ['./mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py',
#               '../_base_/lvis-fixed-ap_test.py']
#     test_cfg = _base_.fixed_ap_test_loop
#     model = dict(test_cfg=_base_.fixed_ap_test_cfg)
#     test_evaluator = _base_.fixed_ap_evaluator
#
# then `mim test mmdet CHILD.py --checkpoint CKPT` (`--out results.pkl` dumps what the metric
# scored). The loop (`TopKTestLoop`, mmdet_lvis_fed/engine/topk_test_loop.py; after
# large-vocab-devil's two-pass `lvdevil/infer_topk.py`) runs the detector twice: pass 1 with the
# mask head off finds each class's 10,000th box score over the test set, pass 2 keeps every
# detection at or above its class's score (ties included) and computes masks only for those; the
# metric's own per-category cut then gives exactly the numbers of one uncapped pass
# (tests/test_engine/test_topk_test_loop.py checks every key against tools/lvis_eval.py on such
# a pass). The model keeps every box score (score_thr 0) and drops mmdet's per-image cap
# (max_per_img -1; the loop refuses a positive one); its proposals stay the experiment's (1,000 in
# mmdet's and the LVIS configs, 300 in the demo's). A child that changes the cap restates it in
# both the loop and the evaluator (the loop refuses one below the metric's).
#
# Masks (masks='evaluated', the loop's default): a mask is compared with ground truth only where
# its class is annotated on its image; under the federated rules every other detection is dropped
# (its class was not checked there) or a false positive (checked absent), whatever its mask. So
# pass 2 runs the mask head only on those detections and gives the others an empty mask, pastes
# each mask inside its box and hands the metric RLE (engine/pass_two_masks.py): the numbers are
# the same, every key (tests/test_engine/test_topk_test_loop.py). Where something else reads the
# masks (`--out`, `--show-dir`, another metric, LVISFedMetric with mask_area=True), every kept
# detection gets mmdet's full-image mask, and the log says why; masks='all' asks for that.
#
# Cost. Pass 1 costs less than a standard test (no masks); pass 2 runs the detector again and
# the mask head on the detections above: its convolutions over those RoIs were most of pass 2's
# time when every kept detection got a mask (45.8 of 53.2 s below). At LVIS-val scale 10,000 per
# class keep 12.0M detections over 19,809 images, about 600 per image (a standard LVIS test keeps
# up to 300), of a few classes annotated per image out of 1,203. Measured with
# `tools/benchmark_fixed_ap.py` (`make bench`): the long-tail demo baseline
# (tests/data/configs/mask-rcnn_r18_fpn_gn-scratch_demo.py, R18, 24 classes, 160 x 160 images,
# 300 proposals) trained by `mim train` (300 iterations, seed 0), the first 40 test images, one
# CPU thread, each `mim test` a fresh process (wall clock, peak RSS), alternating, best of 2, on a
# shared 2-core machine:
#   - standard test (up to 50 per image, bbox and segm): 13.2 s, 0.87 GB;
#   - this piece with max_dets_per_cat 1,000 in loop and metric (600 kept per image, LVIS val's
#     ratio; masks for 3,210 of the 24,000 kept): 20.4 s (pass 2 9.6 s), 1.20 GB: 1.55x the
#     standard. The same session, masks='all' (every kept detection, pasted inside its box):
#     56.0 s (pass 2 45.8 s); the code before (full-image masks for all): 64.5 s (pass 2 53.2 s),
#     4.4x a standard test of 14.7 s then.
# With 10,000 per class the cap cannot bind on 40 images of 24 classes: every detection with a
# score > 0 is kept (2,513 per image), as the rule does; see tools/README.md for that case. Peak
# memory follows the image with the most masks computed (the mask head runs on `mask_chunk`
# RoIs at a time; at 1,203 classes its output is 3.8 MB per RoI), and the metric holds every
# kept detection's mask as RLE until the end (about 400 bytes each, an empty one 2-4 bytes).
fixed_ap_test_loop = dict(type='TopKTestLoop', max_dets_per_cat=10000, masks='evaluated')
fixed_ap_test_cfg = dict(rcnn=dict(score_thr=0.0, max_per_img=-1))
fixed_ap_evaluator = dict(
    metric=['bbox', 'segm', 'boundary'], max_dets=-1, max_dets_per_cat=10000, pooled=True)
