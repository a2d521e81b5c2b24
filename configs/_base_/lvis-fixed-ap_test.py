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
# Cost: the masks of the detections kept. Pass 1 costs less than a standard test (no masks);
# pass 2 computes, pastes and encodes one mask per kept detection, and the mask head's
# convolutions over those RoIs are most of its time. At LVIS-val scale 10,000 per class keep
# 12.0M detections over 19,809 images, about 600 per image (a standard LVIS test keeps up to
# 300); a test set too small for the cap to bind keeps every detection. Measured with the
# long-tail demo baseline of the time (now tests/data/configs/mask-rcnn_r18_fpn_gn-scratch_demo.py)
# trained by `mim train` (its 300 iterations, seed 0; R18, 24 classes,
# 160 x 160 images, 300 proposals) on the first 40 test images, one CPU thread, `mim test`
# (wall clock of the whole command, peak RSS), in one session on a shared 2-core machine:
#   - standard test (up to 50 per image, bbox and segm): 16.4 s (0.25 s per image), 0.62 GB;
#   - this piece with max_dets_per_cat 1,000 in loop and metric (600 kept per image, LVIS val's
#     ratio): 87 s (pass 1 0.14 s, pass 2 1.89 s per image), 2.25 GB peak: 5.3x the standard;
#   - the one-pass piece this replaces (up to 1,000 per image from 1,000 proposals; not the
#     rule: it cuts each image's tail): 136 s, 1.97 GB.
# As it is, 10,000 per class never binds on 40 images of 24 classes: it keeps all 2,513
# detections per image with a score > 0, as the rule does (655 s, 15.8 s per image, 5.4 GB, in
# a session where the standard test took 23.8 s: 27x). Peak memory follows the image with the
# most kept detections (mmdet's mask head runs on all of an image's RoIs at once; at 1,203
# classes its output is 3.8 MB per RoI), and the metric holds every kept mask as RLE until the
# end (about 400 bytes each: some 5 GB for LVIS val).
fixed_ap_test_loop = dict(type='TopKTestLoop', max_dets_per_cat=10000, masks='evaluated')
fixed_ap_test_cfg = dict(rcnn=dict(score_thr=0.0, max_per_img=-1))
fixed_ap_evaluator = dict(
    metric=['bbox', 'segm', 'boundary'], max_dets=-1, max_dets_per_cat=10000, pooled=True)
