# One setup path for everything: `make demo` and `make test` both depend on `make env`.
# The environment lives in .venv/ at the repository root; a stamp file makes a second run instant.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
VPIP    := $(VPY) -m pip
STAMP   := $(VENV)/.mmdet_lvis_fed-env
# mmcv 2.1.0 is the newest mmcv that mmdet 3.3.0 accepts (<2.2.0); it has no CPU wheel for torch 2.13,
# so it is built from source with its ops. pip caches the built wheel: later installs take seconds.
MMCV    := mmcv==2.1.0
TORCH   := torch==2.13.0
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: env demo test bench pretrain ablation experiments rehearsal clean-env

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPIP) install -q --upgrade pip wheel "setuptools>=77.0.3,<81"
	# Pinned: a bare torch requirement pulls the CUDA build and gigabytes of CUDA packages.
	$(VPIP) install -q $(TORCH)
	$(VPIP) install -q ninja "numpy" "opencv-python-headless" addict mmengine==0.10.7 packaging Pillow pyyaml yapf
	# --no-build-isolation: mmcv's setup.py imports torch (and pkg_resources, hence setuptools<81).
	MMCV_WITH_OPS=1 MAX_JOBS=$(JOBS) $(VPIP) install --no-build-isolation $(MMCV)
	$(VPIP) install -q -e ".[tests]"
	# openmim >= 0.3.8 pulled opendatalab/openxlab, which pin setuptools 60 (torch needs >= 77):
	# a venv made before the pin to 0.3.7 still has them.
	$(VPIP) uninstall -q -y opendatalab openxlab 2>/dev/null || true
	$(VPIP) install -q "setuptools>=77.0.3,<81"
	$(VPIP) check
	$(VPY) -c "import mmcv.ops, mmdet, mmdet_lvis_fed; print('env ok: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__)"
	touch $(STAMP)

DEMO_CFG ?= configs/demo/mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py
DEMO_DIR ?= work_dirs/demo
MIM     := $(VENV)/bin/mim

# Train on the demo data, then test the saved checkpoint: metrics per frequency group at the end.
demo: env data/demo/annotations/lvis_v1_val.json
	$(MIM) train mmdet $(DEMO_CFG) --gpus 0 --work-dir $(DEMO_DIR)
	$(MIM) test mmdet $(DEMO_CFG) --gpus 0 --work-dir $(DEMO_DIR) --checkpoint "$$(cat $(DEMO_DIR)/last_checkpoint)"

data/demo/annotations/lvis_v1_val.json: tools/make_demo_data.py
	$(VPY) tools/make_demo_data.py --out data/demo

# The detector both study targets start from: the pretraining config trained once on the study's
# base set, as a keyed run of tools/ablate.py (retrained when its config, options or data change,
# reused otherwise), its checkpoint published at PRETRAINED for the configs that transfer from it.
# About 12 min on 2 cores.
STUDY      := configs/demo/study
PRETRAIN   := $(STUDY)/mask-rcnn_r18_fpn_gn-scratch_base-pretrain_study.py
PRETRAINED := work_dirs/pretrain/mask-rcnn_r18_fpn_gn-scratch_base-pretrain_study.pth
pretrain: env data/study/annotations/lvis_v1_val.json
	$(VPY) tools/ablate.py $(PRETRAIN) --seeds 0 --work-dir work_dirs/pretrain --publish $(PRETRAINED)

# The long-tail ablation: every config in configs/demo/longtail/ x 3 seeds, fine-tuned from the
# pretrained detector (backbone and FPN frozen) on the study's 9 categories, the baseline first
# (the reference of the differences), two runs at a time; then the test-time calibrated rows.
# Resumable (finished runs with the same key are reused). Writes work_dirs/ablation/ablation.md
# and .png. Measured: configs/demo/longtail/README.md.
LT      := configs/demo/longtail
LT_BASE := $(LT)/mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py
JOBS_AB ?= 2
SEEDS_AB ?= 0 1 2
ablation: pretrain
	$(VPY) tools/ablate.py $(LT_BASE) $(filter-out $(LT_BASE),$(sort $(wildcard $(LT)/*.py))) \
	    --seeds $(SEEDS_AB) --work-dir work_dirs/ablation --jobs $(JOBS_AB)

# The seed report's two experiments on the embedded study data (configs/demo/study/): the
# pretrained detector (make pretrain), then every experiment with seed 0 (SEEDS_EXP="0 1" for
# two: about 1.5x the time), then the report's tables and figures in work_dirs/experiments/
# (study.md, ap_iou_exp*.png, loss_curves.png). Resumable.
EXP_DIR  := work_dirs/experiments
# Baseline+++ (10x the images, the longest) first, so that the other runs share the second job.
EXPERIMENTS := $(addprefix $(STUDY)/mask-rcnn_r18_fpn_gn_, base-transfer_exp1-6cat-2freq_study.py \
	base-backbone_exp1-6cat_study.py base-transfer_exp1-6cat_study.py \
	base-transfer_exp1-6cat-3rare_study.py base-transfer_exp2-small-objects_study.py \
	base-transfer_small-anchors_exp2-small-objects_study.py)
SEEDS_EXP ?= 0
experiments: pretrain
	$(VPY) tools/ablate.py $(EXPERIMENTS) --seeds $(SEEDS_EXP) --work-dir $(EXP_DIR) --jobs $(JOBS_AB)
	$(VPY) tools/report_study.py --work-dir $(EXP_DIR) --seeds $(SEEDS_EXP)

data/study/annotations/lvis_v1_val.json: tools/make_demo_data.py
	$(VPY) tools/make_demo_data.py --set study --out data/study

test: env
	$(VPY) -m pytest -q tests -p no:cacheprovider

# Benchmarks print figures with their baselines measured in the same run (tools/README.md has the
# tables). About an hour in all on 2 cores: the end-to-end run waits ~4 minutes for lvis-api, the
# boundary baselines (faster-coco-eval and the branch algorithm) ~16 minutes at 1,000 images, and
# the LVIS-val-scale runs write 0.6-1 GB of JSON.
bench: env data/demo/annotations/lvis_v1_val.json
	$(VPY) tools/benchmark_eval.py --images 5000 --dets-per-image 300
	$(VPY) tools/benchmark_eval.py --end-to-end --images 5000 --dets-per-image 300 --iou-types bbox
	$(VPY) tools/benchmark_eval.py --end-to-end --no-readers --images 5000 --dets-per-image 300 --iou-types segm --tools ours fce
	$(VPY) tools/benchmark_fixed_ap.py
	$(VPY) tools/benchmark_eval.py --end-to-end --images 20000 --dets-per-image 300 --iou-types bbox --tools ours
	$(VPY) tools/benchmark_eval.py --end-to-end --images 1000 --dets-per-image 300 --iou-types boundary --max-dets -1 --max-dets-per-cat 10000 --tools ours fce branch
	$(VPY) tools/benchmark_eval.py --end-to-end --no-readers --images 5000 --dets-per-image 300 --iou-types segm boundary --max-dets -1 --max-dets-per-cat 10000 --tools ours
	$(VPY) tools/benchmark_eval.py --end-to-end --no-readers --images 20000 --dets-per-cat 10000 --max-dets -1 --max-dets-per-cat 10000 --iou-types bbox --tools ours
	$(VPY) tools/benchmark_loading.py
	$(VPY) tools/benchmark_memory.py --ranks-of "mmdet LVISV1Dataset=1"

# Full LVIS at scale on this machine: LVIS-v1-shaped data (the real 1,203 categories, 100,170 train
# and 19,809 val records, tiny images), `mim train` of the full-vocabulary baseline scaled down
# (K = 1203 kept) with 2 gloo processes, `mim test` with the two-pass Fixed AP loop; prints
# start-up time, PSS per process, s/iter, test and evaluation time (tools/README.md has them).
rehearsal: env
	$(VPY) tools/rehearsal.py --work-dir work_dirs/rehearsal

clean-env:
	rm -rf $(VENV)
