"""A federated category subset of LVIS written as compact LVIS-format files: train, val and test
(the command line is tools/make_subset.py, whose --help prints this text).

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

The set is written as one folder (`io.write_folder`): the previous set or the new one, never a mix.
Bad input is a CommandError naming the file, with nothing written.
"""
import os.path as osp

from ..errors import CommandError, LVISFormatError
from ..io import write_folder
from ..lvis_file import LVISFile
from .frequency import COUNTED_ON_KEY, counted_on
from .subset import FederatedSubset, select_categories

SPLITS = ('train', 'val', 'test')


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


def make_subset(train_ann, val_ann, out_dir, classes=None, num_per_freq=None, seed=0,
                exclude_coco=False, not_exhaustive='exclude', val_fraction=0.1, split_seed=0):
    """Read the two official files, make the three subset files and write them with the summary
    into `out_dir`. `num_per_freq`: {'f': N, 'c': N, 'r': N} drawn with `seed` instead of
    `classes`. Returns (the files, the summary table, the `classes = (...)` line, the folder
    written)."""
    try:
        train = LVISFile.read(train_ann)
        cats = select_categories(train.categories, classes=classes, num_per_freq=num_per_freq,
                                 seed=seed, exclude_coco=exclude_coco, source=train_ann)
        info = dict(classes=[c['name'] for c in cats], not_exhaustive=not_exhaustive,
                    val_fraction=val_fraction, split_seed=split_seed,
                    train_ann=osp.basename(train_ann), val_ann=osp.basename(val_ann))
        files = {}
        counted = counted_on(train.data.get('info'), len(train.images), train_ann)
        for split in ('train', 'val'):
            sub = FederatedSubset(train, cats, not_exhaustive, split, val_fraction, split_seed)
            files[split] = subset_file(train, sub, dict(info, split=split), train.categories,
                                       counted)
        train_categories = train.categories
        del train
        val = LVISFile.read(val_ann)
        by_id = {c['id']: c for c in val.categories}
        missing = [c['name'] for c in cats if c['id'] not in by_id]
        if missing:
            raise LVISFormatError(f'{val_ann}: field "categories" has no {missing}')
        sub = FederatedSubset(val, [by_id[c['id']] for c in cats], not_exhaustive)
        files['test'] = subset_file(val, sub, dict(info, split='test'), train_categories, counted)
    except ValueError as e:            # LVISFormatError included
        raise CommandError(str(e)) from None
    empty = [s for s in SPLITS if not files[s]['images'] and not (s == 'val'
                                                                  and val_fraction == 0)]
    if empty:
        raise CommandError(f'the subset has no image in {", ".join(empty)}: no image has '
                           f'{info["classes"]} as positive or verified negative there; nothing '
                           'written')
    rows, table = summarize(files, cats)
    paste = config_lines(cats)
    try:
        written = write_folder({**{f'{s}.json': files[s] for s in SPLITS}, 'summary.json': rows,
                                'summary.txt': table + '\n' + paste + '\n'}, out_dir)
    except OSError as e:
        raise CommandError(f'{out_dir}: cannot write the subset ({e.strerror or e}); nothing '
                           'written') from None
    return files, table, paste, written
