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

.PHONY: env demo test bench ablation clean-env

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

# The long-tail ablation on the demo data: every config in configs/demo/longtail/ x 2 seeds, about
# 90 minutes on 2 CPU cores; resumable (finished runs are skipped). Writes ablation.md and .png.
ablation: env data/demo/annotations/lvis_v1_val.json
	$(VPY) tools/ablate.py configs/demo/longtail/*.py --seeds 0 1 --work-dir work_dirs/ablation

test: env
	$(VPY) -m pytest -q tests -p no:cacheprovider

# Benchmarks print figures with their baselines measured in the same run (minutes each; the
# end-to-end run waits about 4 minutes for lvis-api, the LVIS-val-scale one writes 0.6 GB of JSON).
bench: env
	$(VPY) tools/benchmark_eval.py --images 5000 --dets-per-image 300
	$(VPY) tools/benchmark_eval.py --end-to-end --images 5000 --dets-per-image 300 --iou-types bbox
	$(VPY) tools/benchmark_eval.py --end-to-end --images 20000 --dets-per-image 300 --iou-types bbox --tools ours
	$(VPY) tools/benchmark_loading.py

clean-env:
	rm -rf $(VENV)
