#!/usr/bin/env python
"""Benchmark the federated evaluator against lvis-api 0.5.3 and faster-coco-eval (lvis_style).

One run generates seeded LVIS-format data (1,203 categories) and evaluates it with each tool in its own
subprocess, so each peak memory is that tool's alone. Two modes:

* in memory (default): timings start from inputs already in memory (ground truth loaded, detections
  as a results list or as columns) and end with the summary numbers;
* --end-to-end: what a user waits for. The data is written as an annotation file and a results
  JSON file; each tool runs as a fresh process (start-up and imports included) that reads both
  files and evaluates; the wall time and the peak memory of that process are reported. Ours is
  `tools/lvis_eval.py`. faster-coco-eval is given a results file already capped at 300 per image
  (the cap is not timed).

    python tools/benchmark_eval.py --images 5000 --dets-per-image 300 --iou-types bbox segm
    python tools/benchmark_eval.py --end-to-end --images 5000 --dets-per-image 300 --iou-types bbox

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
LABELS = {'ours': 'ours', 'ours-list': 'ours (results list)', 'lvis': 'lvis-api 0.5.3',
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
        summary = evaluate(g, dets, iou_type).summary
    else:
        results = syn.to_results(cols, segm)
        del cols, segm
        if tool == 'ours-list':
            from mmdet_lvis_fed.evaluation.federated_eval import evaluate
            from mmdet_lvis_fed.evaluation.lvis_data import LVISGroundTruth
            from mmdet_lvis_fed.evaluation.results_file import detections_from_records
            g = LVISGroundTruth.from_dict(gt)
            if iou_type == 'segm':
                g.rles()
            base = rss_mb()
            t = time.perf_counter()
            summary = evaluate(g, detections_from_records(results), iou_type).summary
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
    p.add_argument('--end-to-end', action='store_true',
                   help='time whole processes reading annotation and results files (see above)')
    p.add_argument('--worker', nargs=3, metavar=('TOOL', 'DIR', 'IOU'), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(*args.worker)

    if args.end_to_end:
        return end_to_end(args)
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


E2E_SCRIPTS = {
    'lvis': """
import json, sys, numpy as np
np.float = float                         # lvis-api 0.5.3 calls np.float, gone since numpy 1.24
import logging; logging.disable(logging.WARNING)
from lvis import LVIS, LVISEval, LVISResults
gt = LVIS(sys.argv[1])
ev = LVISEval(gt, LVISResults(gt, sys.argv[2]), sys.argv[3])
ev.run()
json.dump(dict(ev.results), open(sys.argv[4], 'w'))
""",
    'fce': """
import json, sys
from faster_coco_eval import COCO, COCOeval_faster
gt = COCO(sys.argv[1])
ev = COCOeval_faster(gt, gt.loadRes(sys.argv[2]), sys.argv[3], lvis_style=True,
                     print_function=lambda *a: None)
ev.params.maxDets = [300]
ev.evaluate(); ev.accumulate(); ev.summarize()
s = ev.stats_as_dict
json.dump({k: s.get(k2, float('nan')) for k, k2 in zip(
    ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf'),
    ('AP_all', 'AP_50', 'AP_75', 'AP_small', 'AP_medium', 'AP_large', 'APr', 'APc', 'APf'))},
    open(sys.argv[4], 'w'))
""",
}


def child_env():
    """The environment of a timed child: this checkout importable without installing it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in [os.environ.get('PYTHONPATH')] if p]))


def timed_process(cmd):
    """(wall seconds, peak RSS in MB) of one child process run to its end."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=child_env())
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f'{cmd[:3]} failed (exit {proc.returncode}): {err.decode()[-2000:]}')
    return secs, usage.ru_maxrss / 1024


READERS = {
    'json.load (dicts only, no columns)': """
import json, sys
with open(sys.argv[1], 'rb') as f:
    json.load(f)
""",
    'ours: read_results (msgspec, checked columns)': """
import sys
from mmdet_lvis_fed.evaluation.results_file import read_results
read_results(sys.argv[1])
""",
}


IMPORT_CORE = """
import json, sys, time
t = time.perf_counter()
import mmdet_lvis_fed.evaluation.federated_eval, mmdet_lvis_fed.evaluation.results_file
import mmdet_lvis_fed.lvis_file
t = time.perf_counter() - t
frameworks = [m for m in ('torch', 'mmengine', 'mmdet', 'mmcv') if m in sys.modules]
print(json.dumps([t, frameworks]))
"""


def compare_readers(path):
    """The fixed costs of ours: importing the core, and why results JSON is decoded with msgspec
    (reading the same file both ways)."""
    out = subprocess.run([sys.executable, '-c', IMPORT_CORE], capture_output=True, text=True,
                         check=True, env=child_env())
    secs, frameworks = json.loads(out.stdout)
    print(f'importing the evaluator core and readers: {secs:.2f} s (loaded besides numpy: '
          f'{", ".join(frameworks) or "none of torch, mmengine, mmdet, mmcv"})')
    print('reading the results JSON (a fresh process each, imports included):')
    for label, script in READERS.items():
        secs, peak = timed_process([sys.executable, '-c', script, path])
        print(f'{"":6}{label:<48} {secs:7.2f} s  peak {peak / 1024:5.2f} GiB', flush=True)


def end_to_end(args):
    from mmdet_lvis_fed.io import atomic_write_json
    from mmdet_lvis_fed.testing import synthetic as syn
    ours_cli = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lvis_eval.py')
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        gt = syn.make_ground_truth(args.images, args.cats, seed=args.seed)
        cols = syn.make_detections(gt, args.dets_per_image, seed=args.seed + 1)
        segm = syn.detection_masks(gt, cols) if 'segm' in args.iou_types else None
        results = syn.to_results(cols, segm)
        paths = {name: os.path.join(tmp, f'{name}.json') for name in ('gt', 'res', 'capped')}
        atomic_write_json(gt, paths['gt'])
        atomic_write_json(results, paths['res'])
        if 'fce' in args.tools:
            atomic_write_json(cap_per_image(results), paths['capped'])
        mb = os.path.getsize(paths['res']) / 2 ** 20
        print(f'data: {args.images} images, {len(gt["annotations"])} annotations, '
              f'{len(results)} detections ({mb:.0f} MB of results JSON), {args.cats} categories '
              f'(generated in {time.perf_counter() - t:.1f} s)', flush=True)
        del gt, cols, segm, results
        compare_readers(paths['res'])
        for iou_type in args.iou_types:
            runs = {}
            for tool in [t for t in args.tools if t in ('ours', 'lvis', 'fce')]:
                out = os.path.join(tmp, f'{tool}-{iou_type}.json')
                res = paths['capped'] if tool == 'fce' else paths['res']
                if tool == 'ours':
                    cmd = [sys.executable, ours_cli, paths['gt'], res, '--iou-type', iou_type,
                           '--out', out]
                else:
                    cmd = [sys.executable, '-c', E2E_SCRIPTS[tool], paths['gt'], res, iou_type,
                           out]
                try:
                    secs, peak = timed_process(cmd)
                except RuntimeError as e:
                    print(f'  [{iou_type}] {LABELS[tool]}: {e}', flush=True)
                    continue
                with open(out) as f:
                    summary = json.load(f)
                runs[tool] = dict(seconds=secs, peak_mb=peak, base_mb=0,
                                  summary={k: float(summary[k]) for k in KEYS})
                print(f'  [{iou_type}] {LABELS[tool]:<20} {secs:8.2f} s  peak '
                      f'{peak / 1024:6.2f} GiB', flush=True)
            report(iou_type, runs, end_to_end=True)


def report(iou_type, runs, end_to_end=False):
    ref = runs.get('lvis') or runs.get('ours')
    ours = runs.get('ours')
    mode = 'end to end, each a fresh process reading the files' if end_to_end else 'in memory'
    print(f'\n{iou_type} ({mode}):\n{"":6}{"tool":<20} {"seconds":>9} {"peak GiB":>9} '
          f'{"" if end_to_end else "above inputs":>13} {"ours is x faster":>17} '
          f'{"max |diff| vs ref":>18}')
    for tool, r in runs.items():
        speedup = r['seconds'] / ours['seconds'] if ours else float('nan')
        diff = max(abs(r['summary'][k] - ref['summary'][k]) for k in KEYS) if ref else float('nan')
        above = '' if end_to_end else f'{(r["peak_mb"] - r["base_mb"]) / 1024:.2f}'
        print(f'{"":6}{LABELS[tool]:<20} {r["seconds"]:9.2f} {r["peak_mb"] / 1024:9.2f} '
              f'{above:>13} {speedup:17.1f} {diff:18.2e}')
    print(f'{"":6}reference for differences: {"lvis-api" if "lvis" in runs else "ours"}\n',
          flush=True)


if __name__ == '__main__':
    main()
