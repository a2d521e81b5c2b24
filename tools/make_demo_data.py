#!/usr/bin/env python
"""Write the embedded demo dataset: rendered shapes in LVIS v1 format, long-tailed and federated.

    python tools/make_demo_data.py [--out data/demo] [--train-images 600] [--val-images 400]

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
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdet_lvis_fed.io import atomic_write_json, fail  # noqa: E402

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
                 else rng.uniform(24, size * 0.33))
            cx, cy = rng.uniform(r * 0.6, size - r * 0.6, 2)
            objects.append((int(k), shape_mask(cats[k]['shape'], cx, cy, r,
                                               rng.uniform(0, 360), size)))
    covered = np.zeros((size, size), np.uint8)
    visible = []
    for k, m in reversed(objects):            # the last drawn is on top
        vis = m & (1 - covered)
        covered |= m
        visible.append((k, m, vis))
    visible.reverse()
    for k, m, _ in visible:
        colour = np.array(COLOURS[cats[k]['colour']], np.float32) + rng.normal(0, 12, 3)
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


def make_split(rng, cats, weights, n_images, size, folder, first_id, root):
    os.makedirs(osp.join(root, folder), exist_ok=True)
    images, anns = [], []
    for i in range(n_images):
        img_id = first_id + i
        img, instances = render(rng, cats, weights, size)
        path = osp.join(root, folder, f'{img_id:012d}.jpg')
        if not cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f'{path}: cannot write the image (is the folder writable?)')
        present = sorted({inst['cat'] for inst in instances})
        # Federated lists: a few categories verified absent; on some images one instance of a
        # category with several is left unannotated, and that category is flagged.
        absent = [k for k in range(len(cats)) if k not in present]
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
        for j, inst in enumerate(instances):
            if j in drop:
                continue
            anns.append(dict(id=0, image_id=img_id, category_id=cats[inst['cat']]['id'],
                             bbox=inst['bbox'], area=inst['area'],
                             segmentation=inst['segmentation']))
        images.append(dict(
            id=img_id, width=size, height=size, license=1, date_captured='2026-01-01 00:00:00',
            coco_url=f'http://images.cocodataset.org/{folder}/{img_id:012d}.jpg',
            flickr_url='', neg_category_ids=[cats[k]['id'] for k in neg],
            not_exhaustive_category_ids=sorted(cats[k]['id'] for k in not_exhaustive)))
    return images, anns


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
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default='data/demo', help='output folder (default data/demo)')
    p.add_argument('--train-images', type=count(1), default=600, help='default 600')
    p.add_argument('--val-images', type=count(1), default=400, help='default 400')
    p.add_argument('--size', type=count(64), default=160,
                   help='image side in pixels, at least 64 (default 160)')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    try:
        write_demo(args)
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
        print(f'{name}: {n} images rendered under {osp.join(args.out, folder)}', flush=True)
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
                 'frequency': frequency(len(counts[c['id']]))} for c in cats]
    next_id = 1
    for name, (images, anns) in splits.items():
        for a in anns:
            a['id'] = next_id
            next_id += 1
        path = osp.join(args.out, 'annotations', f'lvis_v1_{name}.json')
        atomic_write_json(dict(info=dict(description='mmdet-lvis-fed demo data', version='1.0'),
                               licenses=[dict(id=1, name='CC BY 4.0', url='')], images=images,
                               annotations=anns, categories=out_cats), path)
        print(f'{name}: {len(anns)} annotations -> {path}')
    groups = {f: [c['name'] for c in out_cats if c['frequency'] == f] for f in 'fcr'}
    for f, names in groups.items():
        print(f'  {f}: {len(names)} categories')


if __name__ == '__main__':
    main()
