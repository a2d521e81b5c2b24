#!/usr/bin/env python
"""Write the embedded data sets: rendered shapes in LVIS v1 format, long-tailed and federated.

    python tools/make_demo_data.py [--out data/demo] [--train-images 600] [--val-images 400]
    python tools/make_demo_data.py --set study [--out data/study]

Seeded and deterministic. Layout, like a real LVIS download:

    data/demo/annotations/lvis_v1_train.json, lvis_v1_val.json
    data/demo/train2017/*.jpg, data/demo/val2017/*.jpg        (paths follow each image's coco_url)

24 categories (8 shapes x 3 colours) over a textured background, objects from small (< 32 x 32 px)
to large, later objects occluding earlier ones (masks are the visible parts, as polygons). Category
frequency is long-tailed so that, counted on the train file as LVIS does, all three groups occur
(with the defaults: 9 frequent > 100 images, 9 common 11-100, 6 rare 1-10); the `frequency` field
is computed from those counts. The val file draws every category equally often, so that each has
enough test instances (>= 20 with the defaults) while the rare ones stay rare in training. Each
image lists verified-absent categories in
`neg_category_ids`; on some images an instance is deliberately left unannotated and its category
is listed in `not_exhaustive_category_ids`.

`--set study` writes the data of the seed report's two experiments (configs/demo/study/), 128 x 128:

    data/study/annotations/lvis_v1_train.json, lvis_v1_val.json    the LVIS-like categories
    data/study/annotations/base_train.json, base_val.json          the base set
    data/study/{train,val,base_train,base_val}2017/*.jpg

* 17 LVIS-like categories (`STUDY`), each annotated on a fixed number of training images:
  Experiment 1's two frequent, two common and two rare; three more rare ones (Baseline++); two
  very frequent ones drawn into their own 450 images, about 10x Experiment 1's (Baseline+++); and
  six categories of small objects, 2.5-6 px in radius (Experiment 2). Frequency groups follow
  LVIS's rule scaled to these counts (f > 20 images, c 4-20, r 1-3: `study_frequency`).
* the base set, the stand-in for COCO 2017: 16 other categories (yellow and teal shapes) on 800
  training images, exhaustively annotated (every absent category is verified negative), for the
  detector the experiments start from.
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np

from mmdet_lvis_fed.io import ToolParser, atomic_write_json, fail

SHAPES = ('circle', 'square', 'triangle', 'star', 'cross', 'ring', 'diamond', 'hexagon')
COLOURS = {'red': (40, 40, 220), 'green': (40, 190, 40), 'blue': (220, 90, 30)}   # BGR
# Per-category weight of appearing: frequent, common, rare (8 each, interleaved over shapes).
GROUP_WEIGHT = {'f': 1.0, 'c': 0.12, 'r': 0.03}


def categories():
    cats = []
    for i, (shape, colour) in enumerate((s, c) for c in COLOURS for s in SHAPES):
        group = 'fcr'[(i + i // len(SHAPES)) % 3]
        cats.append({'id': i + 1, 'name': f'{colour}_{shape}', 'synset': f'{colour}_{shape}.n.01',
                     'synonyms': [f'{colour}_{shape}'], 'def': f'a {colour} {shape}',
                     'group': group, 'colour': colour, 'shape': shape})
    return cats


def shape_mask(shape, cx, cy, r, angle, size):
    """Filled mask of one shape on a (size x size) canvas."""
    m = np.zeros((size, size), np.uint8)
    if shape == 'circle':
        cv2.circle(m, (int(cx), int(cy)), int(r), 1, -1)
    elif shape == 'ring':
        cv2.circle(m, (int(cx), int(cy)), int(r), 1, -1)
        cv2.circle(m, (int(cx), int(cy)), max(1, int(r * 0.5)), 0, -1)
    else:
        if shape == 'square':
            t = np.deg2rad(angle + np.array([45, 135, 225, 315]))
            pts = np.stack([np.cos(t), np.sin(t)], 1) * r
        elif shape == 'diamond':
            t = np.deg2rad(np.array([0, 90, 180, 270]))
            pts = np.stack([np.cos(t) * 0.65, np.sin(t)], 1) * r
        elif shape == 'triangle':
            t = np.deg2rad(angle + np.array([90, 210, 330]))
            pts = np.stack([np.cos(t), np.sin(t)], 1) * r
        elif shape == 'hexagon':
            t = np.deg2rad(angle + np.arange(6) * 60)
            pts = np.stack([np.cos(t), np.sin(t)], 1) * r
        elif shape == 'star':
            t = np.deg2rad(angle + np.arange(10) * 36 - 90)
            rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
            pts = np.stack([np.cos(t) * rad, np.sin(t) * rad], 1) * r
        elif shape == 'cross':
            a, b = 1.0, 0.33
            pts = np.array([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a),
                            (-b, b), (-a, b), (-a, -b), (-b, -b)]) * r
        cv2.fillPoly(m, [np.round(pts + (cx, cy)).astype(np.int32)], 1)
    return m


def background(rng, size):
    base = rng.integers(90, 200, 3)
    img = np.ones((size, size, 3), np.float32) * base
    yy, xx = np.mgrid[0:size, 0:size] / size
    img += (rng.normal(0, 25, 3) * xx[..., None] + rng.normal(0, 25, 3) * yy[..., None])
    img += rng.normal(0, 8, (size, size, 3))
    for _ in range(rng.integers(2, 6)):     # distractor blobs in grey
        g = float(rng.integers(60, 220))
        cv2.ellipse(img, (int(rng.integers(0, size)), int(rng.integers(0, size))),
                    (int(rng.integers(3, size // 4)), int(rng.integers(3, size // 4))),
                    float(rng.uniform(0, 180)), 0, 360, (g, g, g), -1)
    return img


def polygons(mask):
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def render(rng, cats, weights, size):
    """One image: objects drawn back to front; each instance's visible mask, box and polygons."""
    img = background(rng, size)
    n_cats = min(len(cats), 1 + rng.poisson(1.6))
    chosen = rng.choice(len(cats), n_cats, replace=False, p=weights)
    objects = []
    for k in chosen:
        for _ in range(1 + rng.poisson(0.9)):
            kind = rng.uniform()
            r = (rng.uniform(4, 9) if kind < 0.3 else rng.uniform(9, 24) if kind < 0.8
                 else rng.uniform(24, max(24.0, size * 0.33)))
            cx, cy = rng.uniform(r * 0.6, size - r * 0.6, 2)
            objects.append((int(k), shape_mask(cats[k]['shape'], cx, cy, r,
                                               rng.uniform(0, 360), size)))
    return compose(rng, img, objects, cats, size)


def compose(rng, img, objects, cats, size, colours=None):
    """Paint (category index, mask) objects back to front; the annotated instances are the
    visible parts (an object mostly hidden is not annotated, as in COCO)."""
    colours = colours or COLOURS
    covered = np.zeros((size, size), np.uint8)
    visible = []
    for k, m in reversed(objects):            # the last drawn is on top
        vis = m & (1 - covered)
        covered |= m
        visible.append((k, m, vis))
    visible.reverse()
    for k, m, _ in visible:
        colour = np.array(colours[cats[k]['colour']], np.float32) + rng.normal(0, 12, 3)
        img[m.astype(bool)] = colour + rng.normal(0, 6, (int(m.sum()), 3))
    instances = []
    for k, m, vis in visible:
        area = int(vis.sum())
        if area < 0.25 * m.sum() or area < 6:
            continue                           # mostly hidden: not annotated, as in COCO
        polys = polygons(vis)
        if not polys:
            continue
        ys, xs = np.nonzero(vis)
        instances.append(dict(cat=k, area=float(area), segmentation=polys,
                              bbox=[float(xs.min()), float(ys.min()),
                                    float(xs.max() - xs.min() + 1),
                                    float(ys.max() - ys.min() + 1)]))
    return np.clip(img, 0, 255).astype(np.uint8), instances


def federate(rng, instances, n_cats, exhaustive=False):
    """An image's federated lists: a few categories verified absent (every absent one when the
    set is `exhaustive`, as COCO is); unless exhaustive, on some images one instance of a category
    with several is left unannotated, and that category is flagged not exhaustive. Returns (neg,
    not_exhaustive, indices of the instances dropped)."""
    present = sorted({inst['cat'] for inst in instances})
    absent = [k for k in range(n_cats) if k not in present]
    if exhaustive:
        return absent, [], set()
    neg = sorted(rng.choice(absent, min(len(absent), rng.integers(2, 7)), replace=False))
    not_exhaustive = []
    by_cat = {}
    for j, inst in enumerate(instances):
        by_cat.setdefault(inst['cat'], []).append(j)
    drop = set()
    for k, idx in by_cat.items():
        if len(idx) >= 2 and rng.uniform() < 0.3:
            drop.add(int(rng.choice(idx)))
            not_exhaustive.append(k)
    return neg, not_exhaustive, drop


def make_split(rng, cats, weights, n_images, size, folder, first_id, root):
    os.makedirs(osp.join(root, folder), exist_ok=True)
    images, anns = [], []
    for i in range(n_images):
        img, instances = render(rng, cats, weights, size)
        record(rng, img, instances, cats, first_id + i, folder, root, images, anns)
    return images, anns


def add_missing(rng, cats, split, size, folder, first_id, root):
    """As in LVIS, every category has a training image: a small train file (tests draw 40 images)
    gets one more image for each category its draw left out (the default files need none)."""
    images, anns = split
    have = {a['category_id'] for a in anns}
    for k, c in enumerate(cats):
        if c['id'] in have:
            continue
        weights = np.ones(len(cats))
        weights[k] = 100 * len(cats)           # category k, maybe with another one
        weights /= weights.sum()
        img, instances = render(rng, cats, weights, size)
        while not any(inst['cat'] == k for inst in instances):
            img, instances = render(rng, cats, weights, size)
        record(rng, img, instances, cats, first_id, folder, root, images, anns)
        first_id += 1


def record(rng, img, instances, cats, img_id, folder, root, images, anns, exhaustive=False):
    """Write the image; append its LVIS image record and its annotations."""
    path = osp.join(root, folder, f'{img_id:012d}.jpg')
    if not cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f'{path}: cannot write the image (is the folder writable?)')
    neg, not_exhaustive, drop = federate(rng, instances, len(cats), exhaustive)
    for j, inst in enumerate(instances):
        if j not in drop:
            anns.append(dict(id=0, image_id=img_id, category_id=cats[inst['cat']]['id'],
                             bbox=inst['bbox'], area=inst['area'],
                             segmentation=inst['segmentation']))
    h, w = img.shape[:2]
    images.append(dict(
        id=img_id, width=w, height=h, license=1, date_captured='2026-01-01 00:00:00',
        coco_url=f'http://images.cocodataset.org/{folder}/{img_id:012d}.jpg',
        flickr_url='', neg_category_ids=[cats[k]['id'] for k in neg],
        not_exhaustive_category_ids=sorted(cats[k]['id'] for k in not_exhaustive)))


def frequency(image_count):
    return 'f' if image_count > 100 else 'c' if image_count > 10 else 'r'


def count(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not an integer')
        if value < minimum:
            raise argparse.ArgumentTypeError(f'{value} is below {minimum}')
        return value
    return parse


def main(argv=None):
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--set', choices=('demo', 'study'), default='demo',
                   help="'demo' (default): the demo data; 'study': the seed report's study "
                        '(LVIS-like categories and a base set to pretrain on)')
    p.add_argument('--out', help='output folder (default data/demo, or data/study)')
    p.add_argument('--train-images', type=count(1), default=600, help='demo: default 600')
    p.add_argument('--val-images', type=count(1), default=None,
                   help='test images (the val file): default 400 (demo), 200 (study)')
    p.add_argument('--base-images', type=count(8), default=800,
                   help='study: training images of the base set (default 800)')
    p.add_argument('--size', type=count(64), default=None,
                   help='image side in pixels, at least 64 (default 160 demo, 128 study)')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    study = args.set == 'study'
    args.out = args.out or ('data/study' if study else 'data/demo')
    args.val_images = args.val_images or (200 if study else 400)
    args.size = args.size or (128 if study else 160)
    try:
        (write_study if study else write_demo)(args)
    except OSError as e:
        fail(f'{e.filename + ": " if getattr(e, "filename", None) else ""}{e.strerror or e}')


def write_demo(args):
    rng = np.random.default_rng(args.seed)
    cats = categories()
    weights = np.array([GROUP_WEIGHT[c['group']] for c in cats])
    weights /= weights.sum()
    os.makedirs(osp.join(args.out, 'annotations'), exist_ok=True)
    # The val file (the demo's test split) draws every category equally often: the rare group
    # stays rare in training (1-10 train images) but has enough test instances to be measured.
    uniform = np.full(len(cats), 1.0 / len(cats))
    splits = {}
    for name, folder, n, first, w in (('train', 'train2017', args.train_images, 1, weights),
                                      ('val', 'val2017', args.val_images, 1_000_001, uniform)):
        splits[name] = make_split(rng, cats, w, n, args.size, folder, first, args.out)
        if name == 'train':
            add_missing(rng, cats, splits[name], args.size, folder, first + n, args.out)
        print(f'{name}: {len(splits[name][0])} images rendered under {osp.join(args.out, folder)}',
              flush=True)
    write_files(args.out, splits, cats, frequency, 'lvis_v1_{}.json', 'mmdet-lvis-fed demo data')


def write_files(out, splits, cats, frequency_of, file_name, description):
    """The annotation files of one data set: categories with LVIS's image_count (counted on the
    train split) and frequency group, annotation ids numbered across the splits."""
    # LVIS defines frequency by the number of train images a category is annotated in.
    train_imgs, train_anns = splits['train']
    counts = {c['id']: set() for c in cats}
    inst = {c['id']: 0 for c in cats}
    for a in train_anns:
        counts[a['category_id']].add(a['image_id'])
        inst[a['category_id']] += 1
    out_cats = [{'id': c['id'], 'name': c['name'], 'synset': c['synset'],
                 'synonyms': c['synonyms'], 'def': c['def'],
                 'image_count': len(counts[c['id']]), 'instance_count': inst[c['id']],
                 'frequency': frequency_of(len(counts[c['id']]))} for c in cats]
    next_id = 1
    for name, (images, anns) in splits.items():
        for a in anns:
            a['id'] = next_id
            next_id += 1
        path = osp.join(out, 'annotations', file_name.format(name))
        # As in LVIS, both files carry the train file's image counts; info says what they were
        # counted on (mmdet_lvis_fed/datasets/frequency.py).
        info = dict(description=description, version='1.0', image_count_images=len(train_imgs))
        atomic_write_json(dict(info=info,
                               licenses=[dict(id=1, name='CC BY 4.0', url='')], images=images,
                               annotations=anns, categories=out_cats), path)
        print(f'{name}: {len(images)} images, {len(anns)} annotations -> {path}')
    groups = {f: [c['name'] for c in out_cats if c['frequency'] == f] for f in 'fcr'}
    for f, names in groups.items():
        print(f'  {f}: {len(names)} categories')
    return out_cats


# --- the seed report's study (--set study) ----------------------------------------------------
# Colours of the study's categories (BGR), none shared with the demo's.
STUDY_COLOURS = {'yellow': (20, 220, 230), 'teal': (150, 150, 20), 'orange': (20, 130, 250),
                 'purple': (170, 50, 130), 'cyan': (230, 210, 40), 'pink': (180, 120, 250)}
# The LVIS-like categories: (name, training images, object size). Experiment 1 takes two
# frequent, two common and two rare; Baseline++ adds three rare; Baseline+++ adds two very
# frequent ones that bring about 10x the training images; Experiment 2 has small objects only.
STUDY = (
    ('orange_circle', 30, 'normal'), ('orange_square', 30, 'normal'),         # Exp. 1: f
    ('orange_triangle', 8, 'normal'), ('orange_star', 8, 'normal'),           # c
    ('orange_cross', 2, 'normal'), ('orange_ring', 2, 'normal'),              # r
    ('purple_diamond', 2, 'normal'), ('purple_hexagon', 3, 'normal'),         # Baseline++: r
    ('purple_star', 1, 'normal'),
    ('cyan_square', 300, 'normal'), ('cyan_triangle', 300, 'normal'),         # Baseline+++: f
    ('pink_circle', 30, 'small'), ('pink_square', 30, 'small'),               # Exp. 2: f
    ('pink_triangle', 8, 'small'), ('pink_star', 8, 'small'),                 # c
    ('pink_cross', 2, 'small'), ('pink_diamond', 2, 'small'),                 # r
)
# Categories that share images: each group is drawn into its own pool of training images, so the
# very frequent ones do not bring Experiment 1's categories more images.
STUDY_POOLS = ((('orange', 'purple'), 60), (('cyan',), 450), (('pink',), 55))
# The base set, the stand-in for COCO 2017: other colours, every shape, exhaustively annotated.
BASE_COLOURS = ('yellow', 'teal')
RADIUS = {'normal': (6.0, 26.0), 'small': (2.5, 6.0)}


def study_frequency(image_count):
    """LVIS's groups (f > 100 images, c 11-100, r 1-10) scaled to the study's train file, whose
    categories have about 1/4 of the images: f > 20, c 4-20, r 1-3."""
    return 'f' if image_count > 20 else 'c' if image_count > 3 else 'r'


def named_categories(names, first_id):
    out = []
    for i, name in enumerate(names):
        colour, shape = name.split('_')
        out.append({'id': first_id + i, 'name': name, 'synset': f'{name}.n.01',
                    'synonyms': [name], 'def': f'a {colour} {shape}', 'colour': colour,
                    'shape': shape})
    return out


def render_objects(rng, cats, chosen, sizes, size):
    """One image holding the categories `chosen` (1-3 instances each, radii by size class)."""
    img = background(rng, size)
    objects = []
    for k in chosen:
        lo, hi = RADIUS[sizes[k]]
        for _ in range(1 + rng.poisson(0.7)):
            r = rng.uniform(lo, min(hi, size * 0.3))
            cx, cy = rng.uniform(r * 0.6, size - r * 0.6, 2)
            objects.append((int(k), shape_mask(cats[k]['shape'], cx, cy, r,
                                               rng.uniform(0, 360), size)))
    return compose(rng, img, objects, cats, size, STUDY_COLOURS)


def quota_plan(rng, cats, quota):
    """Images as lists of category indices such that category k is annotated on quota[k] images
    of its pool (images left without a category are not written)."""
    plan = []
    for colours, pool_size in STUDY_POOLS:
        members = [k for k, c in enumerate(cats) if c['colour'] in colours and quota.get(k)]
        images = [[] for _ in range(pool_size)]
        for k in members:
            for i in rng.choice(pool_size, quota[k], replace=False):
                images[i].append(k)
        plan += [sorted(ks) for ks in images if ks]
    return plan


def study_split(rng, cats, plan, sizes, size, folder, first_id, root, exhaustive):
    os.makedirs(osp.join(root, folder), exist_ok=True)
    images, anns = [], []
    for i, chosen in enumerate(plan):
        img, instances = render_objects(rng, cats, chosen, sizes, size)
        # An object can be hidden behind another; keep the planned counts honest by redrawing.
        while {inst['cat'] for inst in instances} != set(chosen):
            img, instances = render_objects(rng, cats, chosen, sizes, size)
        record(rng, img, instances, cats, first_id + i, folder, root, images, anns, exhaustive)
    return images, anns


def write_study(args):
    """The study's two data sets: the LVIS-like categories (STUDY) and the base set to pretrain on."""
    rng = np.random.default_rng(args.seed)
    size = args.size
    os.makedirs(osp.join(args.out, 'annotations'), exist_ok=True)
    cats = named_categories([n for n, _, _ in STUDY], 1)
    sizes = {k: s for k, (_, _, s) in enumerate(STUDY)}
    train_plan = quota_plan(rng, cats, {k: n for k, (_, n, _) in enumerate(STUDY)})
    # Test images draw 1-3 categories uniformly, so that every category has test instances.
    test_plan = [sorted(rng.choice(len(cats), 1 + rng.integers(0, 3), replace=False).tolist())
                 for _ in range(args.val_images)]
    splits = dict(train=study_split(rng, cats, train_plan, sizes, size, 'train2017', 1,
                                    args.out, False),
                  val=study_split(rng, cats, test_plan, sizes, size, 'val2017', 1_000_001,
                                  args.out, False))
    print('LVIS-like study categories:')
    write_files(args.out, splits, cats, study_frequency, 'lvis_v1_{}.json',
                'mmdet-lvis-fed study data (LVIS-like)')
    base = named_categories([f'{c}_{s}' for c in BASE_COLOURS for s in SHAPES], 1)
    base_sizes = {k: 'normal' for k in range(len(base))}
    base_plans = {name: [sorted(rng.choice(len(base), 1 + rng.integers(0, 3),
                                           replace=False).tolist()) for _ in range(n)]
                  for name, n in (('train', args.base_images), ('val', args.base_images // 8))}
    splits = {name: study_split(rng, base, plan, base_sizes, size, f'base_{name}2017', first,
                                args.out, True)
              for (name, plan), first in zip(base_plans.items(), (2_000_001, 3_000_001))}
    print('base set (the stand-in for COCO: exhaustively annotated):')
    write_files(args.out, splits, base, frequency, 'base_{}.json',
                'mmdet-lvis-fed study base set (COCO stand-in)')


if __name__ == '__main__':
    main()
