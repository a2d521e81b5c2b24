"""The rehearsal's data: LVIS-v1-shaped annotation files (`testing.lvis_v1`) and hard-linked
pictures under a folder that this module marks as its own, reused while its arguments hold."""
import json
import os
import os.path as osp
import shutil
import time

import numpy as np

from ..io import atomic_write_text

DATA_FOLDER = 'rehearsal_data'      # under the rehearsal's work dir
DATA_VERSION = 1     # bump when the generated data changes


def say(message):
    print(message, flush=True)


OWNER_MARK = '.written-by-rehearsal'     # in every data folder this module made, first thing


class RefusedFolder(RuntimeError):
    """A folder the rehearsal would have to remove but did not make."""


def prepare_data(root, train_images, val_images, seed=0, image_size=(64, 48), pictures=15):
    """LVIS-v1-shaped annotation files and their image files under `root` (reused when a stamp
    says they were made with the same arguments). Record i's file is a hard link to picture
    i % pictures: an odd number of pictures, so that each of 2 ranks (which take every other
    image) sees all of them, and the detections the Fixed AP thresholds keep are not gathered on
    one rank by the pictures it happens to get.

    `root` is removed and written again only when this module made it: its first file is
    OWNER_MARK. An existing `root` without the mark (a user's data, say) is refused, never
    touched."""
    from ..testing.lvis_v1 import write_lvis_v1
    stamp_path = osp.join(root, 'rehearsal_data.json')
    stamp = dict(version=DATA_VERSION, train_images=train_images, val_images=val_images,
                 seed=seed, image_size=list(image_size), pictures=pictures)
    try:
        with open(stamp_path) as f:
            if json.load(f) == stamp:
                say(f'data: reused {root} ({train_images} train, {val_images} val records)')
                return root
    except (OSError, ValueError):
        pass
    if osp.lexists(root):
        check_data_folder(root)
        say(f'data: removing {root} (made by an earlier rehearsal with other arguments or not '
            'finished)')
        shutil.rmtree(root)
    import cv2
    t0 = time.perf_counter()
    os.makedirs(root)
    with open(osp.join(root, OWNER_MARK), 'w') as f:
        f.write('Made by mmdet_lvis_fed.benchmarks.rehearsal, which removes this folder when its '
                'data must be written again.\n')
    os.makedirs(osp.join(root, 'annotations'))
    rng = np.random.default_rng(seed)
    w, h = image_size
    for split, n, name in (('train', train_images, 'lvis_v1_train.json'),
                           ('val', val_images, 'lvis_v1_val.json')):
        say(f'data: writing {name} ({n} images)')
        write_lvis_v1(osp.join(root, 'annotations', name), n, seed=seed, split=split,
                      image_size=image_size)
        folder = osp.join(root, f'{split}2017')
        os.makedirs(folder)
        sources = []
        for i in range(pictures):
            path = osp.join(folder, f'picture_{i}.jpg')
            cv2.imwrite(path, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            sources.append(path)
        for i in range(n):     # the file names of testing.lvis_v1's coco_url
            os.link(sources[i % pictures], osp.join(folder, f'{i + 1:012d}.jpg'))
    atomic_write_text(json.dumps(stamp), stamp_path)
    say(f'data: {time.perf_counter() - t0:.0f} s')
    return root


def check_data_folder(root):
    """Refuse a `root` that this module did not make (no OWNER_MARK in it): it is never removed
    or written into."""
    if osp.lexists(root) and (not osp.isdir(root) or not osp.isfile(osp.join(root, OWNER_MARK))):
        raise RefusedFolder(
            f'{root}: exists and was not made by the rehearsal (no {OWNER_MARK} in it), so it is '
            'left as it is; choose another --work-dir, or move it away yourself')
