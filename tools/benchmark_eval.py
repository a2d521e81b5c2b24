#!/usr/bin/env python
"""Benchmark the federated evaluator against lvis-api 0.5.3 and faster-coco-eval (lvis_style).

One run generates seeded LVIS-format data (1,203 categories) and evaluates it with each tool in its own
subprocess, so each peak memory is that tool's alone. Timings start from inputs already in memory
(ground truth loaded, detections as a results list or as columns) and end with the summary numbers.

    python tools/benchmark_eval.py --images 5000 --dets-per-image 300 --iou-types bbox segm

Prints per tool: seconds, peak RSS, the peak above the loaded inputs, speed-up of ours over it, and
the largest difference of the summary numbers from lvis-api's (or from ours where lvis-api is skipped).
"""
import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf')
TOOLS = ('ours', 'ours-list', 'lvis', 'fce')
LABELS = {'ours': 'ours (columns)', 'ours-list': 'ours (results list)', 'lvis': 'lvis-api 0.5.3',
          'fce': 'faster-coco-eval'}


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cap_per_image(results, max_dets=300):
    """faster-coco-eval has no cross-category cap: apply lvis-api's before handing it the results."""
    by_img = {}
    for r in results:
        by_img.setdefault(r['image_id'], []).append(r)
    out = []
    for rs in by_img.values():
        out.extend(sorted(rs, key=lambda r: r['score'], reverse=True)[:max_dets]
                   if len(rs) > max_dets else rs)
    return out


def worker(tool, data_dir, iou_type):
    import logging
    logging.disable(logging.WARNING)
    from mmdet_lvis_fed.testing import synthetic as syn
    with open(os.path.join(data_dir, 'gt.pkl'), 'rb') as f:
        gt = pickle.load(f)
    cols = dict(np.load(os.path.join(data_dir, 'dets.npz')))
    segm = None
    if iou_type == 'segm':
        with open(os.path.join(data_dir, 'segm.pkl'), 'rb') as f:
            segm = pickle.load(f)
    if tool == 'ours':
        from mmdet_lvis_fed.evaluation.federated_eval import evaluate
        from mmdet_lvis_fed.evaluation.lvis_data import Detections, LVISGroundTruth, RLEColumn
        g = LVISGroundTruth.from_dict(gt)
        if iou_type == 'segm':
            g.rles()            # ground-truth masks are decoded once per dataset, not per evaluation
            segm = RLEColumn.from_rles(segm)     # how LVISFedMetric holds masks: one bytes blob
        import gc
        gc.collect()
        base = rss_mb()
        t = time.perf_counter()
        dets = Detections(cols['image_id'], cols['category_id'], cols['score'], cols['bbox'], segm)
        summary = evaluate(g, dets, iou_type, area_from_box=True).summary
    else:
        results = syn.to_results(cols, segm)
        del cols, segm
        if tool == 'ours-list':
            from mmdet_lvis_fed.evaluation.federated_eval import evaluate
            from mmdet_lvis_fed.evaluation.lvis_data import Detections, LVISGroundTruth
            g = LVISGroundTruth.from_dict(gt)
            if iou_type == 'segm':
                g.rles()
            base = rss_mb()
            t = time.perf_counter()
            summary = evaluate(g, Detections.from_results(results), iou_type,
                               area_from_box=True).summary
        elif tool == 'lvis':
            np.float = float    # lvis-api 0.5.3 calls np.float, removed in numpy 1.24
            from lvis import LVIS, LVISEval, LVISResults

            class InMemoryLVIS(LVIS):
                def __init__(self, dataset):
                    self.logger = logging.getLogger('lvis')
                    self.dataset = dataset
                    self._create_index()
            g = InMemoryLVIS(gt)
            base = rss_mb()
            t = time.perf_counter()
            ev = LVISEval(g, LVISResults(g, results), iou_type)
            ev.run()
            summary = dict(ev.results)
        elif tool == 'fce':
            from faster_coco_eval import COCO, COCOeval_faster
            g = COCO(gt)
            g.createIndex()
            base = rss_mb()
            t = time.perf_counter()
            ev = COCOeval_faster(g, g.loadRes(cap_per_image(results)), iou_type,
                                 lvis_style=True, print_function=lambda *a: None)
            ev.params.maxDets = [300]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            s = ev.stats_as_dict
            summary = {k: s.get(k2, float('nan')) for k, k2 in zip(
                KEYS, ('AP_all', 'AP_50', 'AP_75', 'AP_small', 'AP_medium', 'AP_large',
                       'APr', 'APc', 'APf'))}
    secs = time.perf_counter() - t
    print(json.dumps(dict(seconds=secs, peak_mb=rss_mb(), base_mb=base,
                          summary={k: float(summary[k]) for k in KEYS})))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--images', type=int, default=500, help='number of images (default 500)')
    p.add_argument('--dets-per-image', type=int, default=100,
                   help='detections per image before the 300 cap (default 100)')
    p.add_argument('--cats', type=int, default=1203, help='number of categories (default 1203)')
    p.add_argument('--iou-types', nargs='+', default=['bbox', 'segm'], choices=['bbox', 'segm'])
    p.add_argument('--tools', nargs='+', default=list(TOOLS), choices=TOOLS,
                   help='evaluators to run (default: all)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--worker', nargs=3, metavar=('TOOL', 'DIR', 'IOU'), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(*args.worker)

    from mmdet_lvis_fed.testing import synthetic as syn
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        gt = syn.make_ground_truth(args.images, args.cats, seed=args.seed)
        cols = syn.make_detections(gt, args.dets_per_image, seed=args.seed + 1)
        with open(os.path.join(tmp, 'gt.pkl'), 'wb') as f:
            pickle.dump(gt, f, protocol=4)
        np.savez(os.path.join(tmp, 'dets.npz'), **cols)
        if 'segm' in args.iou_types:
            with open(os.path.join(tmp, 'segm.pkl'), 'wb') as f:
                pickle.dump(syn.detection_masks(gt, cols), f, protocol=4)
        print(f'data: {args.images} images, {len(gt["annotations"])} annotations, '
              f'{len(cols["score"])} detections, {args.cats} categories '
              f'(generated in {time.perf_counter() - t:.1f} s)', flush=True)
        for iou_type in args.iou_types:
            runs = {}
            for tool in args.tools:
                out = subprocess.run([sys.executable, __file__, '--worker', tool, tmp, iou_type],
                                     capture_output=True, text=True)
                if out.returncode:
                    print(f'  {tool} {iou_type}: failed (exit {out.returncode})\n'
                          f'{out.stderr[-2000:]}', flush=True)
                    continue
                runs[tool] = json.loads(out.stdout.strip().splitlines()[-1])
                r = runs[tool]
                print(f'  [{iou_type}] {LABELS[tool]:<20} {r["seconds"]:8.2f} s  '
                      f'peak {r["peak_mb"] / 1024:6.2f} GiB', flush=True)
            report(iou_type, runs)


def report(iou_type, runs):
    ref = runs.get('lvis') or runs.get('ours')
    ours = runs.get('ours')
    print(f'\n{iou_type}: {"tool":<20} {"seconds":>9} {"peak GiB":>9} {"above inputs":>13} '
          f'{"ours is x faster":>17} {"max |diff| vs ref":>18}')
    for tool, r in runs.items():
        speedup = r['seconds'] / ours['seconds'] if ours else float('nan')
        diff = max(abs(r['summary'][k] - ref['summary'][k]) for k in KEYS) if ref else float('nan')
        print(f'{"":6}{LABELS[tool]:<20} {r["seconds"]:9.2f} {r["peak_mb"] / 1024:9.2f} '
              f'{(r["peak_mb"] - r["base_mb"]) / 1024:13.2f} {speedup:17.1f} {diff:18.2e}')
    print(f'{"":6}reference for differences: {"lvis-api" if "lvis" in runs else "ours"}\n',
          flush=True)


if __name__ == '__main__':
    main()
