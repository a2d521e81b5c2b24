#!/usr/bin/env python
"""Write compact LVIS-format files for a federated category subset: train, val and test.

    python tools/make_subset.py --train-ann data/lvis_v1/annotations/lvis_v1_train.json \\
        --val-ann data/lvis_v1/annotations/lvis_v1_val.json --out-dir data/lvis_fed/exp1 \\
        --classes coffee_maker cowboy_hat monkey cappuccino chessboard drumstick
    python tools/make_subset.py ... --num-per-freq f=2 c=2 r=2 --seed 0 --exclude-coco

train and val are the deterministic 9:1 split of the official train file that LVISFedDataset makes
(`split='train'|'val'`, same `--val-fraction` and `--split-seed`), test is the official val file.
Each output keeps the LVIS format (so LVISFedDataset and tools/lvis_eval.py read it) with only the
chosen categories, their annotations, and the images where one of them is positive or verified
negative (federated lists restricted to the chosen categories). A summary table (frequency per
category; positive images, negative images and instances per split) is printed and saved as
summary.txt and summary.json, with the `classes = (...)` line to paste into a config (the way to
turn a --num-per-freq draw into a config that names its classes). Every output keeps the train
file's categories (image_count, frequency) and states in info.image_count_images how many images
those counts were made on, so class frequencies mean the same as on the full file.

The set is written into a temporary folder beside --out-dir (beside its target when --out-dir is
a symlink, which keeps pointing there) and put in place: a failure or a kill leaves the previous
set or the new one, never a mix (a SIGKILL in the microseconds between two renames leaves the
previous set moved aside as `.NAME.old-*` beside --out-dir, which the next run puts back), and the
next run cleans up what a killed run left. Bad input ends
in one line, `error: FILE: ...`, exit 2, with nothing written.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdet_lvis_fed.lvis_file import LVISFile  # noqa: E402
from mmdet_lvis_fed.datasets.frequency import COUNTED_ON_KEY, counted_on  # noqa: E402
from mmdet_lvis_fed.datasets.subset import FederatedSubset, select_categories  # noqa: E402
from mmdet_lvis_fed.errors import LVISFormatError  # noqa: E402
from mmdet_lvis_fed.io import (ToolParser, atomic_write_text, deferred_signals,  # noqa: E402
                               fail, umask)

SPLITS = ('train', 'val', 'test')


def parse_freq(items):
    out = {}
    for item in items:
        key, _, value = item.partition('=')
        if key not in ('f', 'c', 'r') or not value.isdigit():
            fail(f'--num-per-freq takes f=N c=N r=N with N >= 0, got {item!r}')
        out[key] = int(value)
    return out


def subset_file(lvis, subset, info, categories, counted):
    """One output file. `categories` are the training file's (LVIS's image_count and frequency are
    counted on the train file, the official val file repeats them); `counted` is the number of
    images those counts were made on, written as info.image_count_images so that f = image_count /
    image_count_images means the same on the subset as on the full file."""
    chosen = set(subset.cat_ids)
    images = []
    for im in subset.images:
        im = dict(im)
        for key in ('neg_category_ids', 'not_exhaustive_category_ids'):
            im[key] = [c for c in im.get(key, ()) if c in chosen]
        images.append(im)
    by_id = {c['id']: c for c in categories}
    return dict(info=dict(lvis.data.get('info') or {}, subset=info, **{COUNTED_ON_KEY: counted}),
                licenses=lvis.data.get('licenses', []), images=images,
                annotations=subset.annotations,
                categories=[by_id[c] for c in subset.cat_ids])


def config_lines(cats):
    """The classes as a config states them (label order = this order): paste into a config."""
    names = ', '.join(repr(c['name']) for c in cats)
    return (f'# for the config (labels in this order; {len(cats)} classes):\n'
            f'classes = ({names}{"," if len(cats) == 1 else ""})')


def summarize(files, cats):
    rows = []
    for c in cats:
        row = dict(id=c['id'], name=c['name'], frequency=c['frequency'])
        for split, data in files.items():
            pos = {a['image_id'] for a in data['annotations'] if a['category_id'] == c['id']}
            neg = sum(c['id'] in im['neg_category_ids'] for im in data['images'])
            n = sum(a['category_id'] == c['id'] for a in data['annotations'])
            row[split] = dict(positive_images=len(pos), negative_images=neg, instances=n)
        rows.append(row)
    width = max(len(r['name']) for r in rows)
    head = f'{"category":<{width}}  freq ' + ''.join(f'| {s:^21} ' for s in files)
    sub = f'{"":<{width}}       ' + ''.join(f'| {"pos":>6} {"neg":>6} {"inst":>7} ' for _ in files)
    lines = [head, sub]
    for r in rows:
        lines.append(f'{r["name"]:<{width}}  {r["frequency"]:^4} ' + ''.join(
            f'| {r[s]["positive_images"]:>6} {r[s]["negative_images"]:>6} '
            f'{r[s]["instances"]:>7} ' for s in files))
    lines.append(f'{"images":<{width}}       ' + ''.join(
        f'| {len(d["images"]):>21} ' for d in files.values()))
    return rows, '\n'.join(lines)


def _leftovers(out_dir):
    parent, name = osp.split(out_dir)
    if not osp.isdir(parent):
        return [], []
    names = os.listdir(parent)
    return ([osp.join(parent, n) for n in names if n.startswith(f'.{name}.tmp-')],
            [osp.join(parent, n) for n in names if n.startswith(f'.{name}.old-')])


def _recover(out_dir):
    """Undo what a killed run left: its temporary folder goes; a previous set that it had moved
    aside but not yet replaced comes back."""
    tmps, olds = _leftovers(out_dir)
    for path in tmps:
        shutil.rmtree(path, ignore_errors=True)
    for path in sorted(olds):
        if not osp.exists(out_dir):
            os.rename(path, out_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


def write_all(outputs, out_dir):
    """Write the whole set into a temporary folder beside `out_dir`, then put it in place.

    The old set is moved aside, the new one renamed in (SIGINT, SIGTERM, SIGHUP and SIGQUIT
    deferred until both are done), the old one removed: a kill leaves either set in place. Only a
    SIGKILL in the microseconds between the two renames leaves `out_dir` absent, the old set
    moved aside as `.NAME.old-*`: the next run puts it back before anything else. Never a mix. A symlink `out_dir` keeps pointing where it did: the set is written into its
    target. `out_dir` may hold only this tool's files (nothing else is moved away with the old
    set). Returns the folder written.
    """
    out_dir = osp.realpath(out_dir)
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise OSError(f'{out_dir}: exists and is not a folder')
    _recover(out_dir)
    if osp.isdir(out_dir):
        other = sorted(set(os.listdir(out_dir)) - set(outputs))
        if other:
            raise OSError(f'{out_dir}: holds files this tool did not write ({", ".join(other[:3])}'
                          f'{", ..." if len(other) > 3 else ""}); choose a new or empty folder')
    parent, name = osp.split(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{name}.tmp-', dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~umask())
        for fname, content in outputs.items():
            atomic_write_text(content if isinstance(content, str) else json.dumps(content),
                              osp.join(tmp, fname))
        if not osp.isdir(out_dir):
            os.rename(tmp, out_dir)
        else:
            old = tmp.replace('.tmp-', '.old-')
            with deferred_signals():        # Ctrl-C / SIGTERM: after both renames
                os.rename(out_dir, old)
                os.rename(tmp, out_dir)
            shutil.rmtree(old)
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def main(argv=None):
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--train-ann', required=True, help='official LVIS train file (v1 or v0.5)')
    p.add_argument('--val-ann', required=True, help='official LVIS val file: becomes the test set')
    p.add_argument('--out-dir', required=True, help='where train.json, val.json, test.json and '
                                                    'the summary go')
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument('--classes', nargs='+', metavar='NAME', help='categories by name')
    group.add_argument('--num-per-freq', nargs='+', metavar='G=N',
                       help='categories drawn per frequency group, e.g. f=2 c=2 r=2')
    p.add_argument('--seed', type=int, default=0, help='seed of the --num-per-freq draw')
    p.add_argument('--exclude-coco', action='store_true',
                   help='skip categories that are also COCO categories')
    p.add_argument('--not-exhaustive', choices=['exclude', 'keep'], default='exclude',
                   help="drop images where a chosen category is not exhaustively annotated "
                        "('exclude', default) or keep them")
    p.add_argument('--val-fraction', type=float, default=0.1,
                   help='share of the train file in val, 0 to 1 (default 0.1)')
    p.add_argument('--split-seed', type=int, default=0)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    try:
        train = LVISFile.read(args.train_ann)
        cats = select_categories(
            train.categories, classes=args.classes,
            num_per_freq=parse_freq(args.num_per_freq) if args.num_per_freq else None,
            seed=args.seed, exclude_coco=args.exclude_coco, source=args.train_ann)
        info = dict(classes=[c['name'] for c in cats], not_exhaustive=args.not_exhaustive,
                    val_fraction=args.val_fraction, split_seed=args.split_seed,
                    train_ann=osp.basename(args.train_ann), val_ann=osp.basename(args.val_ann))
        files = {}
        counted = counted_on(train.data.get('info'), len(train.images), args.train_ann)
        for split in ('train', 'val'):
            sub = FederatedSubset(train, cats, args.not_exhaustive, split, args.val_fraction,
                                  args.split_seed)
            files[split] = subset_file(train, sub, dict(info, split=split), train.categories,
                                       counted)
        train_categories = train.categories
        del train
        val = LVISFile.read(args.val_ann)
        by_id = {c['id']: c for c in val.categories}
        missing = [c['name'] for c in cats if c['id'] not in by_id]
        if missing:
            raise LVISFormatError(f'{args.val_ann}: field "categories" has no {missing}')
        sub = FederatedSubset(val, [by_id[c['id']] for c in cats], args.not_exhaustive)
        files['test'] = subset_file(val, sub, dict(info, split='test'), train_categories, counted)
    except ValueError as e:            # LVISFormatError included
        fail(e)
    empty = [s for s in SPLITS if not files[s]['images'] and not (s == 'val'
                                                                  and args.val_fraction == 0)]
    if empty:
        fail(f'the subset has no image in {", ".join(empty)}: no image has {info["classes"]} '
             'as positive or verified negative there; nothing written')
    rows, table = summarize(files, cats)
    paste = config_lines(cats)
    try:
        written = write_all({**{f'{s}.json': files[s] for s in SPLITS}, 'summary.json': rows,
                             'summary.txt': table + '\n' + paste + '\n'}, args.out_dir)
    except OSError as e:
        fail(f'{args.out_dir}: cannot write the subset ({e.strerror or e}); nothing written')
    print(table)
    print(f'\n{paste}')
    where = args.out_dir if osp.realpath(args.out_dir) == osp.abspath(args.out_dir) else \
        f'{args.out_dir} (-> {written})'
    print(f'\nwritten to {where}: train.json, val.json, test.json, summary.txt, '
          f'summary.json ({time.perf_counter() - t0:.1f} s)')
    return files


if __name__ == '__main__':
    main()
