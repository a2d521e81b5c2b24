"""Benchmark the federated evaluator against lvis-api 0.5.3, faster-coco-eval (lvis_style) and,
for Boundary AP, lvis-api's challenge branch algorithm (the references of
`mmdet_lvis_fed.testing.reference`).

One run generates seeded LVIS-format data (1,203 categories) and evaluates it with each tool in its
own subprocess, so each peak memory is that tool's alone. Two modes:

* in memory (default): timings start from inputs already in memory (ground truth loaded, detections
  as a results list or as columns) and end with the summary numbers;
* --end-to-end: what a user waits for. The data is written as an annotation file and a results
  JSON file; each tool runs as a fresh process (start-up and imports included) that reads both
  files and evaluates; the wall time and the peak memory of that process are reported (for the
  branch algorithm, of its largest process). Ours is `tools/lvis_eval.py`. The command line is
  tools/benchmark_eval.py.

The protocol is lvis-api's (300 per image) unless --max-dets / --max-dets-per-cat say otherwise
(the LVIS challenge 2021: --iou-types boundary --max-dets -1 --max-dets-per-cat 10000).
faster-coco-eval and lvis-api 0.5.3 have no per-category cap (and faster-coco-eval no
cross-category per-image cap): they are given results already capped by the official rules, the
cap not timed.

(Usage: tools/benchmark_eval.py.)

Prints per tool: seconds, peak RSS, the peak above the loaded inputs, speed-up of ours over it, and
the largest difference of the summary numbers from the reference (lvis-api, or the branch
algorithm for boundary, or ours where neither ran).
"""
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time

import numpy as np

from ..evaluation.summary import AP_KEYS as KEYS
from ..procfs import own_peak_rss
from ..testing import reference

TOOLS = ('ours', 'ours-list', 'lvis', 'fce', 'branch')
LABELS = {'ours': 'ours', 'ours-list': 'ours (results list)', 'lvis': 'lvis-api 0.5.3',
          'fce': 'faster-coco-eval', 'branch': 'lvis-api branch alg.'}


def rss_mb():
    return own_peak_rss() / 2**20


def worker(tool, data_dir, iou_type, max_dets, max_dets_per_cat):
    """One tool on the data of `data_dir`, in a process of its own; prints its JSON record."""
    max_dets, max_dets_per_cat = int(max_dets), int(max_dets_per_cat)
    import logging
    logging.disable(logging.WARNING)
    from ..testing import synthetic as syn
    with open(os.path.join(data_dir, 'gt.pkl'), 'rb') as f:
        gt = pickle.load(f)
    cols = dict(np.load(os.path.join(data_dir, 'dets.npz')))
    segm = None
    if iou_type != 'bbox':
        with open(os.path.join(data_dir, 'segm.pkl'), 'rb') as f:
            segm = pickle.load(f)
    caps = dict(max_dets=max_dets, max_dets_per_cat=max_dets_per_cat)
    if tool == 'ours':
        from ..evaluation.detections import Detections
        from ..evaluation.federated_eval import evaluate
        from ..evaluation.ground_truth import LVISGroundTruth
        from ..evaluation.masks import RLEColumn
        g = LVISGroundTruth.from_dict(gt)
        if iou_type != 'bbox':
            g.rle_column()   # ground-truth masks are encoded once per dataset, not per evaluation
            segm = RLEColumn.from_rles(segm)     # how LVISFedMetric holds masks: one bytes blob
        import gc
        gc.collect()
        base = rss_mb()
        t = time.perf_counter()
        dets = Detections(cols['image_id'], cols['category_id'], cols['score'], cols['bbox'], segm)
        summary = evaluate(g, dets, iou_type, **caps).summary
    else:
        results = syn.to_results(cols, segm)
        del cols, segm
        if tool == 'ours-list':
            from ..evaluation.federated_eval import evaluate
            from ..evaluation.ground_truth import LVISGroundTruth
            from ..evaluation.results_json import detections_from_records
            g = LVISGroundTruth.from_dict(gt)
            if iou_type != 'bbox':
                g.rle_column()
            base = rss_mb()
            t = time.perf_counter()
            summary = evaluate(g, detections_from_records(results), iou_type, **caps).summary
        elif tool in ('lvis', 'branch'):
            base = rss_mb()
            t = time.perf_counter()
            summary = reference.lvis_api_eval(gt, results, iou_type, max_dets, max_dets_per_cat)
        elif tool == 'fce':
            results = reference.cap_results(results, max_dets, max_dets_per_cat)
            base = rss_mb()
            t = time.perf_counter()
            summary = reference.fce_eval(gt, results, iou_type, max_dets)
    secs = time.perf_counter() - t
    print(json.dumps(dict(seconds=secs, peak_mb=rss_mb(), base_mb=base,
                          summary={k: float(summary[k]) for k in KEYS})))


def tools_for(iou_type, tools):
    """lvis-api 0.5.3 has no boundary IoU; the branch algorithm is only for boundary."""
    return [t for t in tools if not ((t == 'lvis' and iou_type == 'boundary')
                                     or (t == 'branch' and iou_type != 'boundary'))]


def generate(args):
    from ..testing import synthetic as syn
    gt = syn.make_ground_truth(args.images, args.cats, seed=args.seed)
    if args.dets_per_cat:
        cols = syn.make_detections_per_category(gt, args.dets_per_cat, seed=args.seed + 1)
    else:
        cols = syn.make_detections(gt, args.dets_per_image, seed=args.seed + 1)
    return gt, cols


WORKER = """
import sys
from mmdet_lvis_fed.benchmarks.evaluation import worker
worker(*sys.argv[1:])
"""


def in_memory(args):
    """Each tool on data already in memory (its own process), per IoU type; prints the table."""
    from ..testing import synthetic as syn
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        gt, cols = generate(args)
        with open(os.path.join(tmp, 'gt.pkl'), 'wb') as f:
            pickle.dump(gt, f, protocol=4)
        np.savez(os.path.join(tmp, 'dets.npz'), **cols)
        if set(args.iou_types) - {'bbox'}:
            with open(os.path.join(tmp, 'segm.pkl'), 'wb') as f:
                pickle.dump(syn.detection_masks(gt, cols), f, protocol=4)
        print(f'data: {args.images} images, {len(gt["annotations"])} annotations, '
              f'{len(cols["score"])} detections, {args.cats} categories '
              f'(generated in {time.perf_counter() - t:.1f} s); {protocol(args)}', flush=True)
        for iou_type in args.iou_types:
            runs = {}
            for tool in tools_for(iou_type, args.tools):
                out = subprocess.run([sys.executable, '-c', WORKER, tool, tmp, iou_type,
                                      str(args.max_dets), str(args.max_dets_per_cat)],
                                     capture_output=True, text=True, env=child_env())
                if out.returncode:
                    print(f'  {tool} {iou_type}: failed (exit {out.returncode})\n'
                          f'{out.stderr[-2000:]}', flush=True)
                    continue
                runs[tool] = json.loads(out.stdout.strip().splitlines()[-1])
                r = runs[tool]
                print(f'  [{iou_type}] {LABELS[tool]:<20} {r["seconds"]:8.2f} s  '
                      f'peak {r["peak_mb"] / 1024:6.2f} GiB', flush=True)
            report(iou_type, runs)




def child_env():
    """The environment of a timed child: this checkout importable without installing it."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in [os.environ.get('PYTHONPATH')] if p]))


def protocol(args):
    caps = [f'at most {args.max_dets} per image' if args.max_dets >= 0 else 'no per-image cap']
    if args.max_dets_per_cat >= 0:
        caps.append(f'at most {args.max_dets_per_cat} per category')
    return ', '.join(caps)


def report(iou_type, runs, end_to_end=False):
    ref_tool = next((t for t in ('lvis', 'branch', 'ours') if t in runs), None)
    ref = runs.get(ref_tool)
    ours = runs.get('ours')
    mode = 'end to end, each a fresh process reading the files' if end_to_end else 'in memory'
    print(f'\n{iou_type} ({mode}):\n{"":6}{"tool":<20} {"seconds":>9} {"peak GiB":>9} '
          f'{"cpu s (x)" if end_to_end else "above inputs":>17} {"ours is x faster":>17} '
          f'{"max |diff| vs ref":>18}')
    for tool, r in runs.items():
        speedup = r['seconds'] / ours['seconds'] if ours else float('nan')
        diff = max(abs(r['summary'][k] - ref['summary'][k]) for k in KEYS) if ref else float('nan')
        if end_to_end:
            third = f'{r["cpu"]:.1f} ({r["cpu"] / ours["cpu"] if ours else float("nan"):.1f})'
        else:
            third = f'{(r["peak_mb"] - r["base_mb"]) / 1024:.2f}'
        print(f'{"":6}{LABELS[tool]:<20} {r["seconds"]:9.2f} {r["peak_mb"] / 1024:9.2f} '
              f'{third:>17} {speedup:17.1f} {diff:18.2e}')
    print(f'{"":6}reference for differences: {LABELS.get(ref_tool, "none")}\n', flush=True)
