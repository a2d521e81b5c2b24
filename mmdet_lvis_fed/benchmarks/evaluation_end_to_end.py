"""The end-to-end mode of the evaluation benchmark (benchmarks/evaluation.py, `--end-to-end`):
each tool a fresh process that reads the annotation and results files, timed with its peak
memory and CPU time; and the fixed costs of ours (importing the core, decoding results JSON)."""
import json
import os
import subprocess
import sys
import tempfile
import time

from ..evaluation.summary import AP_KEYS as KEYS
from ..testing import reference
from .evaluation import LABELS, child_env, generate, protocol, report, tools_for


E2E_SCRIPTS = {
    'lvis': """
import json, sys
from mmdet_lvis_fed.testing.reference import lvis_api_eval
results = json.load(open(sys.argv[2]))
json.dump(lvis_api_eval(sys.argv[1], results, sys.argv[3], int(sys.argv[5]), int(sys.argv[6])),
          open(sys.argv[4], 'w'))
""",
    'fce': """
import json, sys
from mmdet_lvis_fed.testing.reference import fce_eval
json.dump(fce_eval(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])),
          open(sys.argv[4], 'w'))
""",
}
E2E_SCRIPTS['branch'] = E2E_SCRIPTS['lvis']      # the same transcription; boundary only


def timed_process(cmd, extra_env=None):
    """(wall seconds, peak RSS in MB, CPU seconds) of one child process run to its end. The CPU
    time (user + system) counts the processes it waited for too (a pool's workers): on a shared
    machine it moves less with the load than the wall time. `extra_env`: variables to set."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(child_env(), **(extra_env or {})))
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
    'ours: read_results (compiled scan, checked columns)': """
import sys
from mmdet_lvis_fed.evaluation.results_json import read_results
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


def end_to_end(args, ours_cli):
    """Each tool as a fresh process reading the files (ours: the command line `ours_cli`, a
    path to tools/lvis_eval.py); prints the table."""
    from ..io import atomic_write_json
    from ..testing import synthetic as syn
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        gt, cols = generate(args)
        segm = syn.detection_masks(gt, cols) if set(args.iou_types) - {'bbox'} else None
        paths = {name: os.path.join(tmp, f'{name}.json') for name in ('gt', 'res', 'capped')}
        atomic_write_json(gt, paths['gt'])
        syn.write_results(paths['res'], cols, segm)
        if 'fce' in args.tools:
            capped = reference.cap_results(syn.to_results(cols, segm), args.max_dets,
                                           args.max_dets_per_cat)
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
