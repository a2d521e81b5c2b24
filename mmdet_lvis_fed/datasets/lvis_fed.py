"""`LVISFedDataset`: a federated LVIS category subset as an mmdet dataset."""
import os.path as osp
import pickle
from typing import Dict, Optional

from mmdet.datasets import CocoDataset, LVISV1Dataset
from mmdet.registry import DATASETS
from mmengine.fileio import get_local_path

from ..errors import LVISFormatError
from ..lvis_file import LVISFile
from .frequency import COUNTED_ON_KEY, counted_on, image_counts
from .shared_data_list import SharedDataListMixin
from .subset import FederatedSubset, LVISIndex, select_categories


def _as_unpickled(value):
    """`value` as a checkpoint gives it back. mmengine's `--resume` compares the checkpoint's
    dataset metainfo with the dataset's by their pickled bytes: strings decoded from JSON are
    distinct objects, the unpickler's one-letter strings (the 'r', 'c', 'f' groups) one shared
    object, so equal values would pickle differently and warn on every resume."""
    return pickle.loads(pickle.dumps(value))


@DATASETS.register_module()
class LVISFedDataset(SharedDataListMixin, LVISV1Dataset):
    """A federated subset of LVIS (v0.5 or v1 annotation files), labels 0..K-1.

    Categories are named with ``metainfo=dict(classes=(...))`` or drawn by counts per frequency
    group with ``num_per_freq``; with neither, every category of the file is used. An image is in the
    subset when a chosen category is annotated on it or listed in its ``neg_category_ids``. Each data
    info keeps mmdet's keys (``img_id``, ``img_path``, ``instances``, ...) and adds ``neg_labels``
    (chosen categories verified absent) and ``not_exhaustive_labels`` (chosen categories whose
    instances are not all annotated), both as labels.

    Args:
        num_per_freq (dict, optional): e.g. ``dict(f=2, c=2, r=2)``. Defaults to None.
        seed (int): seed of the ``num_per_freq`` draw. Defaults to 0.
        exclude_coco (bool): skip categories that are also COCO categories. Defaults to False.
        not_exhaustive (str): ``'exclude'`` drops images where a chosen category is not
            exhaustively annotated; ``'keep'`` keeps them. Defaults to 'exclude'.
        split (str, optional): None (the whole file), ``'train'`` or ``'val'``: a deterministic
            split of the file (for a validation set carved out of the official train file; the
            official val file then serves as test). Defaults to None.
        val_fraction (float): share of images in ``'val'``. Defaults to 0.1.
        split_seed (int): seed of the split. Defaults to 0.
        check_files (bool): check at start-up that every image file exists. Defaults to True.
        filter_cfg (dict): mmdet's; by default images without instances of the chosen categories
            (negatives only) are left out of training. They always stay in test mode, where they
            decide the false positives. Defaults to ``dict(filter_empty_gt=True)``.
        shared_memory (bool): with ``serialize_data=True`` (mmengine's default), build the
            serialized data list in a short-lived child process and keep it in POSIX shared
            memory (``/dev/shm``), one copy per node: local rank 0 builds it, the node's other
            ranks and every DataLoader worker map it (`shared_data_list.SharedDataListMixin`).
            Every rank of a process group must then build the dataset, as mmengine's Runner
            does. False: mmengine's way, a copy in each rank's heap. Defaults to True.
        **kwargs: the rest of mmdet's ``CocoDataset`` arguments (``ann_file``, ``data_root``,
            ``data_prefix``, ``pipeline``, ``test_mode``, ``metainfo``, ...).
    """

    def __init__(self, *args, num_per_freq: Optional[Dict[str, int]] = None, seed: int = 0,
                 exclude_coco: bool = False, not_exhaustive: str = 'exclude',
                 split: Optional[str] = None, val_fraction: float = 0.1, split_seed: int = 0,
                 check_files: bool = True, filter_cfg: Optional[dict] = dict(filter_empty_gt=True),
                 shared_memory: bool = True, **kwargs):
        self.subset_cfg = dict(num_per_freq=num_per_freq, seed=seed, exclude_coco=exclude_coco)
        self.split_cfg = dict(not_exhaustive=not_exhaustive, split=split,
                              val_fraction=val_fraction, split_seed=split_seed)
        self.check_files = check_files
        self.shared_memory = shared_memory
        self._classes_given = (kwargs.get('metainfo') or {}).get('classes')
        kwargs.setdefault('data_prefix', dict(img=''))   # image paths relative to data_root
        super().__init__(*args, filter_cfg=filter_cfg, **kwargs)

    def load_data_list(self):
        # mmdet's LVIS loaders go through lvis-api; CocoDataset's generic loader reads the same
        # COCO-style API, which `COCOAPI` below serves from the subset's own small index.
        with get_local_path(self.ann_file, backend_args=self.backend_args) as path:
            lvis = LVISFile.read(path)
        lvis.source = source = self.ann_file
        classes = self._classes_given
        if classes is None and self.subset_cfg['num_per_freq'] is None:
            classes = [c['name'] for c in sorted(lvis.categories, key=lambda c: c['id'])]
        cats = select_categories(lvis.categories, classes=classes, source=source,
                                 **self.subset_cfg)
        subset = FederatedSubset(lvis, cats, **self.split_cfg)
        total = counted_on(lvis.data.get('info'), len(lvis.images), source)
        del lvis
        if not subset.images:
            raise LVISFormatError(
                f'{source}: the subset is empty: no image has {[c["name"] for c in cats]} as '
                f'positive or negative ({self.split_cfg})')
        # LVIS's frequency f = image_count / the images it was counted on (datasets/frequency.py):
        # repeat-factor sampling with freq_source='file', EQL, ECM and calibration use it.
        self._metainfo.update(_as_unpickled({
            'classes': tuple(c['name'] for c in cats), 'lvis_cat_ids': tuple(subset.cat_ids),
            'frequencies': tuple(c['frequency'] for c in cats), 'ann_file': self.ann_file,
            'image_count': tuple(c.get('image_count') for c in cats), COUNTED_ON_KEY: total}))
        self._index = LVISIndex(subset)
        del subset
        data_list = CocoDataset.load_data_list(self)
        del self._index                # like CocoDataset's `del self.coco`: free the raw records
        if self.check_files:
            self._check_image_files(data_list)
        return data_list

    def filter_data(self):
        data_list = super().filter_data()
        if not data_list and not self.test_mode:
            raise LVISFormatError(
                f'{self.ann_file}: no training image is left for classes '
                f'{list(self.metainfo["classes"])} in split {self.split_cfg["split"]!r} '
                f'(not_exhaustive={self.split_cfg["not_exhaustive"]!r}): images where they are only '
                'verified negative are left out of training (filter_cfg.filter_empty_gt=True); '
                'choose classes annotated in this split')
        # The other frequency source (freq_source='subset'): the share of this dataset's images,
        # as filtered, that hold each class. Kept in the metainfo, hence in every checkpoint.
        labels = [[inst['bbox_label'] for inst in d['instances']] for d in data_list]
        counts = image_counts(labels, len(self._metainfo['classes']))
        self._metainfo.update(subset_image_count=tuple(int(c) for c in counts),
                              subset_num_images=len(data_list))
        return data_list

    def COCOAPI(self, local_path):  # noqa: N802 (the attribute name CocoDataset reads)
        return self._index

    def parse_data_info(self, raw_data_info):
        data_info = super().parse_data_info(raw_data_info)
        img, label = raw_data_info['raw_img_info'], self.cat2label
        # The federated lists, restricted to the subset, as ascending labels.
        data_info['neg_labels'] = sorted(
            label[c] for c in img.get('neg_category_ids', ()) if c in label)
        data_info['not_exhaustive_labels'] = sorted(
            label[c] for c in img.get('not_exhaustive_category_ids', ()) if c in label)
        return data_info

    def _check_image_files(self, data_list):
        missing = [d['img_path'] for d in data_list if not osp.isfile(d['img_path'])]
        if missing:
            raise LVISFormatError(
                f'{self.ann_file}: {len(missing)} of {len(data_list)} image files named in field '
                f'"images" are missing, e.g. {missing[0]} (data_root={self.data_root!r}, '
                f'data_prefix={self.data_prefix!r}); set check_files=False to skip this check')
