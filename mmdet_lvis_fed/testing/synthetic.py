"""Seeded synthetic LVIS-format ground truth and detections, for tests and benchmarks.

Made-up categories in any number (LVIS v1's file-shaped data, with its real categories and sizes, is
`lvis_v1`'s). Everything is generated in bulk with numpy so that LVIS-val scale (20k images, 6M
detections) takes seconds. Boxes span tiny to huge; masks are octagons inscribed in the boxes, so a
mask's area differs from its box's; detections mix near-misses of the ground truth with background
boxes on positive, negative and unverified categories, and scores are rounded so that ties occur.
"""
import numpy as np

from .lvis_v1 import GROUP_SIZES, NUM_CLASSES
from .lvis_v1 import draw_boxes as _boxes


def make_categories(num_cats=NUM_CLASSES):
    """`num_cats` made-up categories, in LVIS v1's shares of frequent, common and rare."""
    counts = np.array([n for _, n in GROUP_SIZES], float)
    counts = np.floor(counts / counts.sum() * num_cats).astype(int)
    counts[0] += num_cats - counts.sum()
    freq = np.repeat([f for f, _ in GROUP_SIZES], counts)
    return [dict(id=i + 1, name=f'category_{i + 1:04d}', synset=f'category_{i + 1:04d}.n.01',
                 frequency=str(f)) for i, f in enumerate(freq)]


def octagons(boxes):
    """(n, 16) polygons: octagons inscribed in x, y, w, h boxes."""
    x, y, w, h = (boxes[:, i:i + 1] for i in range(4))
    fx = np.array([0.3, 0.7, 1, 1, 0.7, 0.3, 0, 0])[None]
    fy = np.array([0, 0, 0.3, 0.7, 1, 1, 0.7, 0.3])[None]
    poly = np.empty((len(boxes), 16))
    poly[:, 0::2] = x + fx * w
    poly[:, 1::2] = y + fy * h
    return poly


def octagon_area(boxes):
    return boxes[:, 2] * boxes[:, 3] * (1 - 4 * 0.5 * 0.3 * 0.3)


def make_ground_truth(num_images, num_cats=NUM_CLASSES, seed=0, mean_pos_cats=4.0,
                      mean_instances=2.5):
    """An LVIS v1-style annotation dict (polygons, federated lists, frequencies)."""
    rng = np.random.default_rng(seed)
    cats = make_categories(num_cats)
    freq = np.array([c['frequency'] for c in cats])
    # Frequent categories are far more likely to appear, as in LVIS.
    weight = np.where(freq == 'f', 20.0, np.where(freq == 'c', 3.0, 0.5))
    weight /= weight.sum()
    images, anns = [], []
    img_w = rng.choice([480, 500, 640], num_images)
    img_h = rng.choice([360, 427, 480], num_images)
    n_pos = np.clip(rng.poisson(mean_pos_cats, num_images), 1, max(1, num_cats // 2))
    for i in range(num_images):
        pos = rng.choice(num_cats, n_pos[i], replace=False, p=weight)
        rest = np.setdiff1d(np.arange(num_cats), pos)
        neg = rng.choice(rest, min(len(rest), rng.integers(0, 12)), replace=False)
        nel = pos[rng.uniform(size=len(pos)) < 0.15]
        images.append(dict(id=i + 1, width=int(img_w[i]), height=int(img_h[i]),
                           file_name=f'{i + 1:012d}.jpg',
                           coco_url=f'http://images.cocodataset.org/val2017/{i + 1:012d}.jpg',
                           neg_category_ids=sorted(int(cats[c]['id']) for c in neg),
                           not_exhaustive_category_ids=sorted(int(cats[c]['id']) for c in nel)))
        counts = 1 + rng.geometric(1 / mean_instances, len(pos)) - 1
        cat_of = np.repeat(pos, counts)
        boxes = _boxes(rng, len(cat_of), img_w[i], img_h[i])
        polys = np.round(octagons(boxes), 2)
        areas = octagon_area(boxes)
        for c, b, p, a in zip(cat_of, boxes, polys, areas):
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=int(cats[c]['id']),
                             bbox=b.tolist(), area=float(a), segmentation=[p.tolist()]))
    imgs_of, inst = {}, {}
    for a in anns:
        imgs_of.setdefault(a['category_id'], set()).add(a['image_id'])
        inst[a['category_id']] = inst.get(a['category_id'], 0) + 1
    for c in cats:
        c['image_count'] = len(imgs_of.get(c['id'], ()))
        c['instance_count'] = inst.get(c['id'], 0)
    return dict(info={}, licenses=[], images=images, annotations=anns, categories=cats)


def make_detections(gt, dets_per_image=300, seed=1, near_share=0.3):
    """Detection columns for `gt` (an annotation dict): image_id, category_id, score and
    bbox (x, y, w, h)."""
    rng = np.random.default_rng(seed)
    cat_ids = np.array([c['id'] for c in gt['categories']])
    imgs = gt['images']
    ann_img = np.array([a['image_id'] for a in gt['annotations']])
    ann_cat = np.array([a['category_id'] for a in gt['annotations']])
    ann_box = np.array([a['bbox'] for a in gt['annotations']], float).reshape(-1, 4)
    order = np.argsort(ann_img, kind='stable')
    starts = np.searchsorted(ann_img[order], [im['id'] for im in imgs], 'left')
    ends = np.searchsorted(ann_img[order], [im['id'] for im in imgs], 'right')
    cols = {k: [] for k in ('image_id', 'category_id', 'score', 'bbox')}
    for im, s, e in zip(imgs, starts, ends):
        n = dets_per_image
        idx = order[s:e]
        n_near = min(n, int(round(near_share * n))) if len(idx) else 0
        pick = rng.choice(idx, n_near) if n_near else np.zeros(0, int)
        near = ann_box[pick] * (1 + rng.normal(0, 0.12, (n_near, 4)))
        near[:, :2] = ann_box[pick, :2] + ann_box[pick, 2:] * rng.normal(0, 0.08, (n_near, 2))
        near[:, 2:] = np.maximum(near[:, 2:], 0.5)
        near_cat = np.where(rng.uniform(size=n_near) < 0.85, ann_cat[pick],
                            rng.choice(cat_ids, n_near))
        n_bg = n - n_near
        bg = _boxes(rng, n_bg, im['width'], im['height'])
        known = np.r_[ann_cat[idx], im['neg_category_ids']].astype(int)
        u = rng.uniform(size=n_bg)
        bg_cat = np.where((u < 0.5) & (len(known) > 0),
                          rng.choice(known, n_bg) if len(known) else 0, rng.choice(cat_ids, n_bg))
        cols['image_id'].append(np.full(n, im['id']))
        cols['category_id'].append(np.r_[near_cat, bg_cat])
        cols['score'].append(np.round(np.r_[rng.uniform(0.3, 1, n_near),
                                            rng.uniform(0, 0.8, n_bg)], 3))
        cols['bbox'].append(np.round(np.r_[near, bg], 2))
    return {k: np.concatenate(v) for k, v in cols.items()}


def detection_masks(gt, dets):
    """Compressed RLE (octagon inside each detection box), one per detection row."""
    from pycocotools import mask as mask_utils
    hw = {im['id']: (im['height'], im['width']) for im in gt['images']}
    img = dets['image_id']
    rles = [None] * len(img)
    bounds = np.r_[0, np.nonzero(np.diff(img))[0] + 1, len(img)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        h, w = hw[int(img[a])]
        polys = octagons(dets['bbox'][a:b]).tolist()
        for j, rle in enumerate(mask_utils.frPyObjects(polys, h, w)):
            rles[a + j] = rle
    return rles


def to_results(dets, segm=None):
    """The official results format (list of dicts), for lvis-api and files."""
    out = []
    for i, (im, c, s, b) in enumerate(zip(dets['image_id'].tolist(), dets['category_id'].tolist(),
                                          dets['score'].tolist(), dets['bbox'].tolist())):
        r = dict(image_id=im, category_id=c, score=s, bbox=b)
        if segm is not None:
            rle = segm[i]
            counts = rle['counts']
            r['segmentation'] = dict(size=rle['size'], counts=counts.decode()
                                     if isinstance(counts, bytes) else counts)
        out.append(r)
    return out


def make_detections_per_category(gt, dets_per_cat=10000, seed=1, near_share=0.3):
    """Detection columns with `dets_per_cat` rows for every category (the Fixed AP setting: a
    detector that ranks 10,000 detections per category over the dataset): a share near the
    category's ground truth (jittered boxes), the rest on random images. Rows ordered by image.
    Vectorised: LVIS-val scale (20k images x 1,203 categories x 10,000) takes seconds."""
    rng = np.random.default_rng(seed)
    cat_ids = np.array([c['id'] for c in gt['categories']])
    imgs = gt['images']
    img_ids = np.array([im['id'] for im in imgs])
    img_wh = np.array([(im['width'], im['height']) for im in imgs], float)
    ann_img = np.array([a['image_id'] for a in gt['annotations']])
    ann_cat = np.array([a['category_id'] for a in gt['annotations']])
    ann_box = np.array([a['bbox'] for a in gt['annotations']], float).reshape(-1, 4)
    order = np.argsort(ann_cat, kind='stable')
    start = np.searchsorted(ann_cat[order], cat_ids, 'left')
    count = np.searchsorted(ann_cat[order], cat_ids, 'right') - start
    n_near = np.where(count > 0, int(round(near_share * dets_per_cat)), 0)
    near_cat = np.repeat(np.arange(len(cat_ids)), n_near)
    pick = order[start[near_cat] + (rng.uniform(size=len(near_cat)) * count[near_cat]).astype(int)]
    near = ann_box[pick] * (1 + rng.normal(0, 0.12, (len(pick), 4)))
    near[:, :2] = ann_box[pick, :2] + ann_box[pick, 2:] * rng.normal(0, 0.08, (len(pick), 2))
    near[:, 2:] = np.maximum(near[:, 2:], 0.5)
    bg_cat = np.repeat(np.arange(len(cat_ids)), dets_per_cat - n_near)
    bg_img = rng.integers(0, len(imgs), len(bg_cat))
    wh = img_wh[bg_img]
    w = np.exp(rng.uniform(0, 1, len(bg_cat)) * np.log(0.9 * wh[:, 0]))
    h = np.clip(w * np.exp(rng.normal(0, 0.4, len(bg_cat))), 1.0, 0.9 * wh[:, 1])
    bg = np.stack([rng.uniform(size=len(bg_cat)) * (wh[:, 0] - w),
                   rng.uniform(size=len(bg_cat)) * (wh[:, 1] - h), w, h], 1)
    image_id = np.r_[ann_img[pick], img_ids[bg_img]]
    by_image = np.argsort(image_id, kind='stable')
    return dict(image_id=image_id[by_image],
                category_id=cat_ids[np.r_[near_cat, bg_cat]][by_image],
                score=np.round(np.r_[rng.uniform(0.3, 1, len(pick)),
                                     rng.uniform(0, 0.8, len(bg_cat))], 3)[by_image],
                bbox=np.round(np.r_[near, bg], 2)[by_image])


def write_results(path, dets, segm=None, chunk=200_000):
    """The official results JSON of detection columns (and RLE masks), streamed in chunks so
    that millions of detections never exist as dicts at once; written whole or not at all."""
    import msgspec

    from ..io import atomic_write
    n = len(dets['score'])

    def write(f):
        f.write(b'[')
        for lo in range(0, n, chunk):
            part = {k: v[lo:lo + chunk] for k, v in dets.items()}
            data = msgspec.json.encode(to_results(part, segm[lo:lo + chunk] if segm else None))
            f.write((b',' if lo else b'') + data[1:-1])
        f.write(b']')
    return atomic_write(path, write, binary=True)
