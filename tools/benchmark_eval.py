#!/usr/bin/env python
"""Benchmark the federated evaluator against lvis-api 0.5.3, faster-coco-eval (lvis_style) and,
for Boundary AP, lvis-api's challenge branch algorithm (transcribed: see `lvis_api_eval`).

One run generates seeded LVIS-format data (1,203 categories) and evaluates it with each tool in its
own subprocess, so each peak memory is that tool's alone. Two modes:

* in memory (default): timings start from inputs already in memory (ground truth loaded, detections
  as a results list or as columns) and end with the summary numbers;
* --end-to-end: what a user waits for. The data is written as an annotation file and a results
  JSON file; each tool runs as a fresh process (start-up and imports included) that reads both
  files and evaluates; the wall time and the peak memory of that process are reported (for the
  branch algorithm, of its largest process). Ours is `tools/lvis_eval.py`.

The protocol is lvis-api's (300 per image) unless --max-dets / --max-dets-per-cat say otherwise
(the LVIS challenge 2021: --iou-types boundary --max-dets -1 --max-dets-per-cat 10000).
faster-coco-eval and lvis-api 0.5.3 have no per-category cap (and faster-coco-eval no
cross-category per-image cap): they are given results already capped by the official rules, the
cap not timed.

    python tools/benchmark_eval.py --images 5000 --dets-per-image 300 --iou-types bbox segm
    python tools/benchmark_eval.py --end-to-end --images 5000 --dets-per-image 300 --iou-types bbox
    python tools/benchmark_eval.py --end-to-end --images 1000 --iou-types boundary \\
        --max-dets -1 --max-dets-per-cat 10000 --tools ours fce branch
    python tools/benchmark_eval.py --end-to-end --images 20000 --dets-per-cat 10000 \\
        --max-dets -1 --max-dets-per-cat 10000 --iou-types bbox --tools ours --no-readers

Prints per tool: seconds, peak RSS, the peak above the loaded inputs, speed-up of ours over it, and
the largest difference of the summary numbers from the reference (lvis-api, or the branch
algorithm for boundary, or ours where neither ran).
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

from mmdet_lvis_fed.evaluation.summary import AP_KEYS as KEYS  # noqa: E402
from mmdet_lvis_fed.io import ToolParser  # noqa: E402

TOOLS = ('ours', 'ours-list', 'lvis', 'fce', 'branch')
LABELS = {'ours': 'ours', 'ours-list': 'ours (results list)', 'lvis': 'lvis-api 0.5.3',
          'fce': 'faster-coco-eval', 'branch': 'lvis-api branch alg.'}
FCE_KEYS = ('AP_all', 'AP_50', 'AP_75', 'AP_small', 'AP_medium', 'AP_large', 'APr', 'APc', 'APf')


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cap_results(results, max_dets=300, max_dets_per_cat=-1):
    """The official caps (`LVISResults` of the challenge branch) on a results list: per image
    first, the list regrouped image by image, then per category over the whole list, each by a
    stable sort on the score. For the tools that have no such caps (the cap is not timed)."""
    if max_dets >= 0:
        by_img = {}
        for r in results:
            by_img.setdefault(r['image_id'], []).append(r)
        results = []
        for rs in by_img.values():
            results.extend(sorted(rs, key=lambda r: r['score'], reverse=True)[:max_dets]
                           if len(rs) > max_dets else rs)
    if max_dets_per_cat >= 0:
        by_cat = {}
        for r in results:
            by_cat.setdefault(r['category_id'], []).append(r)
        results = [r for rs in by_cat.values()
                   for r in sorted(rs, key=lambda r: r['score'], reverse=True)[:max_dets_per_cat]]
    return results


# lvis-api's challenge branch, transcribed -------------------------------------------------------


def mask_boundaries(rles, dilation_ratio=0.02):
    """Boundary RLEs as the branch computes them for every annotation: the mask decoded at full
    image size, padded by one pixel of zeros, eroded d times by a 3x3 square with cv2, cropped
    back and subtracted from the mask."""
    import cv2
    from pycocotools import mask as mask_utils
    out = []
    for rle in rles:
        mask = mask_utils.decode(rle)
        h, w = mask.shape
        d = max(1, int(round(dilation_ratio * np.sqrt(h ** 2 + w ** 2))))
        padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=d)[1:h + 1, 1:w + 1]
        out.append(mask_utils.encode(np.asfortranarray((mask - eroded)[:, :, None]))[0])
    return out


def lvis_api_eval(gt, results, iou_type, max_dets=300, max_dets_per_cat=-1, dilation_ratio=0.02):
    """lvis-api 0.5.3 as its users run it, and for boundary the algorithm of lvis-api's branch
    `lvis_challenge_2021`, written from its description (the branch is not on PyPI and its code
    is not copied): the results capped as its `LVISResults` caps them; for boundary, the boundary
    of every ground-truth and detected mask precomputed at full image size with cv2 in a process
    pool of cpu_count workers (the annotations split in cpu_count parts), then lvis-api's
    evaluation with IoU = min(mask IoU, boundary IoU) for every pair. `gt`: an annotation file
    path or dict. Returns the summary."""
    import logging
    import multiprocessing
    np.float = float           # lvis-api 0.5.3 calls np.float, gone since numpy 1.24
    from lvis import LVIS, LVISEval, LVISResults
    from pycocotools import mask as mask_utils

    class InMemoryLVIS(LVIS):
        def __init__(self, dataset):
            self.logger = logging.getLogger('lvis')
            self.dataset = dataset
            self._create_index()

    class BoundaryEval(LVISEval):
        def compute_iou(self, img_id, cat_id):
            gts, dts = self._get_gt_dt(img_id, cat_id)
            if not (gts and dts):
                return super().compute_iou(img_id, cat_id)
            dts = [dts[i] for i in np.argsort([-d['score'] for d in dts], kind='mergesort')]
            crowd = [0] * len(gts)
            mask = mask_utils.iou([d['segmentation'] for d in dts],
                                  [g['segmentation'] for g in gts], crowd)
            boundary = mask_utils.iou([d['boundary'] for d in dts],
                                      [g['boundary'] for g in gts], crowd)
            return np.minimum(np.asarray(mask), np.asarray(boundary))

    g = LVIS(gt) if isinstance(gt, str) else InMemoryLVIS(gt)
    dt = LVISResults(g, cap_results(results, max_dets, max_dets_per_cat), max_dets=-1)
    boundary = iou_type == 'boundary'
    if boundary:
        workers = multiprocessing.cpu_count()
        with multiprocessing.Pool(workers) as pool:
            for lvis in (g, dt):
                anns = lvis.dataset['annotations']
                rles = []
                for a in anns:
                    segm, im = a['segmentation'], lvis.imgs[a['image_id']]
                    if isinstance(segm, list):
                        segm = mask_utils.merge(mask_utils.frPyObjects(segm, im['height'],
                                                                       im['width']))
                    rles.append(segm)
                parts = [pool.apply_async(mask_boundaries, (list(part), dilation_ratio))
                         for part in np.array_split(np.array(rles, dtype=object), workers)]
                for a, b in zip(anns, (b for p in parts for b in p.get())):
                    a['boundary'] = b
    ev = (BoundaryEval if boundary else LVISEval)(g, dt, 'segm' if boundary else iou_type)
    ev.params.max_dets = max_dets
    ev.run()
    return dict(ev.results)


def fce_eval(gt, results, iou_type, max_dets=300):
    """faster-coco-eval's `lvis_style` evaluation of results already capped; its summary under
    lvis-api's key names."""
    from faster_coco_eval import COCO, COCOeval_faster
    g = COCO(gt)
    g.createIndex()
    dt = g.loadRes(results)
    ev = COCOeval_faster(g, dt, iou_type, lvis_style=True, print_function=lambda *a: None)
    # its maxDets cuts each (image, category): no cut beyond what the capped results hold
    per_image = np.bincount(np.unique([a['image_id'] for a in dt.dataset['annotations']],
                                      return_inverse=True)[1])
    ev.params.maxDets = [max_dets if max_dets >= 0 else int(per_image.max(initial=1))]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    s = ev.stats_as_dict
    return {k: s.get(k2, float('nan')) for k, k2 in zip(KEYS, FCE_KEYS)}


# in memory ----------------------------------------------------------------------------------


def worker(tool, data_dir, iou_type, max_dets, max_dets_per_cat):
    import logging
    logging.disable(logging.WARNING)
    from mmdet_lvis_fed.testing import synthetic as syn
    with open(os.path.join(data_dir, 'gt.pkl'), 'rb') as f:
        gt = pickle.load(f)
    cols = dict(np.load(os.path.join(data_dir, 'dets.npz')))
    segm = None
    if iou_type != 'bbox':
        with open(os.path.join(data_dir, 'segm.pkl'), 'rb') as f:
            segm = pickle.load(f)
    caps = dict(max_dets=max_dets, max_dets_per_cat=max_dets_per_cat)
    if tool == 'ours':
        from mmdet_lvis_fed.evaluation.detections import Detections
        from mmdet_lvis_fed.evaluation.federated_eval import evaluate
        from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
        from mmdet_lvis_fed.evaluation.masks import RLEColumn
        g = LVISGroundTruth.from_dict(gt)
        if iou_type != 'bbox':
            g.rles()     # ground-truth masks are decoded once per dataset, not per evaluation
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
            from mmdet_lvis_fed.evaluation.federated_eval import evaluate
            from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
            from mmdet_lvis_fed.evaluation.results_file import detections_from_records
            g = LVISGroundTruth.from_dict(gt)
            if iou_type != 'bbox':
                g.rles()
            base = rss_mb()
            t = time.perf_counter()
            summary = evaluate(g, detections_from_records(results), iou_type, **caps).summary
        elif tool in ('lvis', 'branch'):
            base = rss_mb()
            t = time.perf_counter()
            summary = lvis_api_eval(gt, results, iou_type, max_dets, max_dets_per_cat)
        elif tool == 'fce':
            results = cap_results(results, max_dets, max_dets_per_cat)
            base = rss_mb()
            t = time.perf_counter()
            summary = fce_eval(gt, results, iou_type, max_dets)
    secs = time.perf_counter() - t
    print(json.dumps(dict(seconds=secs, peak_mb=rss_mb(), base_mb=base,
                          summary={k: float(summary[k]) for k in KEYS})))


def tools_for(iou_type, tools):
    """lvis-api 0.5.3 has no boundary IoU; the branch algorithm is only for boundary."""
    return [t for t in tools if not ((t == 'lvis' and iou_type == 'boundary')
                                     or (t == 'branch' and iou_type != 'boundary'))]


def generate(args):
    from mmdet_lvis_fed.testing import synthetic as syn
    gt = syn.make_ground_truth(args.images, args.cats, seed=args.seed)
    if args.dets_per_cat:
        cols = syn.make_detections_per_category(gt, args.dets_per_cat, seed=args.seed + 1)
    else:
        cols = syn.make_detections(gt, args.dets_per_image, seed=args.seed + 1)
    return gt, cols


def main():
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--images', type=int, default=500, help='number of images (default 500)')
    p.add_argument('--dets-per-image', type=int, default=100,
                   help='detections per image before any cap (default 100)')
    p.add_argument('--dets-per-cat', type=int,
                   help='instead: this many detections for every category (Fixed AP data)')
    p.add_argument('--cats', type=int, default=1203, help='number of categories (default 1203)')
    p.add_argument('--iou-types', nargs='+', default=['bbox', 'segm'],
                   choices=['bbox', 'segm', 'boundary'])
    p.add_argument('--max-dets', type=int, default=300,
                   help='per-image cap (default 300; -1: none)')
    p.add_argument('--max-dets-per-cat', type=int, default=-1,
                   help='per-category cap (default -1: none; the challenge: 10000)')
    p.add_argument('--tools', nargs='+', default=['ours', 'ours-list', 'lvis', 'fce'],
                   choices=TOOLS, help='evaluators to run (default: all but branch)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--end-to-end', action='store_true',
                   help='time whole processes reading annotation and results files (see above)')
    p.add_argument('--no-readers', action='store_true',
                   help='end to end: skip timing json.load against our reader on the results')
    p.add_argument('--worker', nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        tool, data_dir, iou_type, max_dets, per_cat = args.worker
        return worker(tool, data_dir, iou_type, int(max_dets), int(per_cat))

    if args.end_to_end:
        return end_to_end(args)
    from mmdet_lvis_fed.testing import synthetic as syn
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
                out = subprocess.run([sys.executable, __file__, '--worker', tool, tmp, iou_type,
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


def protocol(args):
    caps = [f'at most {args.max_dets} per image' if args.max_dets >= 0 else 'no per-image cap']
    if args.max_dets_per_cat >= 0:
        caps.append(f'at most {args.max_dets_per_cat} per category')
    return ', '.join(caps)


# end to end -----------------------------------------------------------------------------------


E2E_SCRIPTS = {
    'lvis': """
import json, sys
from tools.benchmark_eval import lvis_api_eval
results = json.load(open(sys.argv[2]))
json.dump(lvis_api_eval(sys.argv[1], results, sys.argv[3], int(sys.argv[5]), int(sys.argv[6])),
          open(sys.argv[4], 'w'))
""",
    'fce': """
import json, sys
from tools.benchmark_eval import fce_eval
json.dump(fce_eval(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])),
          open(sys.argv[4], 'w'))
""",
}
E2E_SCRIPTS['branch'] = E2E_SCRIPTS['lvis']      # the same transcription; boundary only


def child_env():
    """The environment of a timed child: this checkout importable without installing it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in [os.environ.get('PYTHONPATH')] if p]))


def timed_process(cmd):
    """(wall seconds, peak RSS in MB, CPU seconds) of one child process run to its end. The CPU
    time (user + system) counts the processes it waited for too (a pool's workers): on a shared
    machine it moves less with the load than the wall time."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=child_env())
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f'{cmd[:3]} failed (exit {proc.returncode}): {err.decode()[-2000:]}')
    return secs, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


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
frameworks = [m for m in ('torch', 'mmengine', 'mmdet', 'mmcv', 'cv2') if m in sys.modules]
print(json.dumps([t, frameworks]))
"""


def compare_readers(path):
    """The fixed costs of ours: importing the core, and why results JSON is decoded with msgspec
    (reading the same file both ways)."""
    out = subprocess.run([sys.executable, '-c', IMPORT_CORE], capture_output=True, text=True,
                         check=True, env=child_env())
    secs, frameworks = json.loads(out.stdout)
    print(f'importing the evaluator core and readers: {secs:.2f} s (loaded besides numpy: '
          f'{", ".join(frameworks) or "none of torch, mmengine, mmdet, mmcv, cv2"})')
    print('reading the results JSON (a fresh process each, imports included):')
    for label, script in READERS.items():
        secs, peak, _ = timed_process([sys.executable, '-c', script, path])
        print(f'{"":6}{label:<48} {secs:7.2f} s  peak {peak / 1024:5.2f} GiB', flush=True)


def end_to_end(args):
    from mmdet_lvis_fed.io import atomic_write_json
    from mmdet_lvis_fed.testing import synthetic as syn
    ours_cli = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lvis_eval.py')
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        gt, cols = generate(args)
        segm = syn.detection_masks(gt, cols) if set(args.iou_types) - {'bbox'} else None
        paths = {name: os.path.join(tmp, f'{name}.json') for name in ('gt', 'res', 'capped')}
        atomic_write_json(gt, paths['gt'])
        syn.write_results(paths['res'], cols, segm)
        if 'fce' in args.tools:
            capped = cap_results(syn.to_results(cols, segm), args.max_dets, args.max_dets_per_cat)
            atomic_write_json(capped, paths['capped'])
            del capped
        mb = os.path.getsize(paths['res']) / 2 ** 20
        n_dets = len(cols['score'])
        print(f'data: {args.images} images, {len(gt["annotations"])} annotations, '
              f'{n_dets} detections ({mb:.0f} MB of results JSON), {args.cats} categories '
              f'(generated in {time.perf_counter() - t:.1f} s); {protocol(args)}', flush=True)
        del gt, cols, segm
        if not args.no_readers:
            compare_readers(paths['res'])
        for iou_type in args.iou_types:
            runs = {}
            for tool in [t for t in tools_for(iou_type, args.tools) if t != 'ours-list']:
                out = os.path.join(tmp, f'{tool}-{iou_type}.json')
                res = paths['capped'] if tool == 'fce' else paths['res']
                if tool == 'ours':
                    cmd = [sys.executable, ours_cli, paths['gt'], res, '--iou-type', iou_type,
                           '--max-dets', str(args.max_dets), '--max-dets-per-cat',
                           str(args.max_dets_per_cat), '--out', out]
                else:
                    cmd = [sys.executable, '-c', E2E_SCRIPTS[tool], paths['gt'], res, iou_type,
                           out, str(args.max_dets), str(args.max_dets_per_cat)]
                try:
                    secs, peak, cpu = timed_process(cmd)
                except RuntimeError as e:
                    print(f'  [{iou_type}] {LABELS[tool]}: {e}', flush=True)
                    continue
                with open(out) as f:
                    summary = json.load(f)
                runs[tool] = dict(seconds=secs, peak_mb=peak, base_mb=0, cpu=cpu,
                                  summary={k: float(summary[k]) for k in KEYS})
                print(f'  [{iou_type}] {LABELS[tool]:<20} {secs:8.2f} s  peak '
                      f'{peak / 1024:6.2f} GiB  cpu {cpu:8.2f} s  (load {os.getloadavg()[0]:.1f})',
                      flush=True)
            report(iou_type, runs, end_to_end=True)


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


if __name__ == '__main__':
    main()
