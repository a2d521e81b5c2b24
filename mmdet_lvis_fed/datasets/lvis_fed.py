"""`LVISFedDataset`: a federated LVIS category subset as an mmdet dataset."""
import os
import os.path as osp
import pickle
from typing import Dict, Optional

import mmdet
import mmengine
from mmdet.datasets import CocoDataset, LVISV1Dataset
from mmdet.registry import DATASETS
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.fileio import get_local_path
from torch.utils.data import get_worker_info

from .. import __version__, shared_buffer
from ..errors import LVISFormatError
from ..io import file_digest
from ..lvis_file import LVISFile
from .frequency import COUNTED_ON_KEY, counted_on, image_counts
from .subset import FederatedSubset, LVISIndex, select_categories


def _as_unpickled(value):
    """`value` as a checkpoint gives it back. mmengine's `--resume` compares the checkpoint's
    dataset metainfo with the dataset's by their pickled bytes: strings decoded from JSON are
    distinct objects, the unpickler's one-letter strings (the 'r', 'c', 'f' groups) one shared
    object, so equal values would pickle differently and warn on every resume."""
    return pickle.loads(pickle.dumps(value))


@DATASETS.register_module()
class LVISFedDataset(LVISV1Dataset):
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
            ranks and every DataLoader worker map it (`full_init`). Every rank of a process group
            must then build the dataset, as mmengine's Runner does. False: mmengine's way, a
            copy in each rank's heap. Defaults to True.
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

    def full_init(self):
        """mmengine's `full_init`, run in a child process that leaves the serialized list in
        shared memory, one segment per node (`mmdet_lvis_fed.shared_buffer`).

        The parse of a full LVIS file leaves gigabytes of freed objects in the heap of the
        process that ran it, and mmengine keeps one list per rank. Here local rank 0 of each node
        (``LOCAL_RANK``, which torchrun and mmengine's slurm and mpi launchers set; every rank
        builds its own where it is unset) forks a child that runs mmengine's `full_init` and
        writes `data_bytes`, `data_address` and everything else `full_init` set on the dataset
        (the metainfo that `load_data_list` and `filter_data` computed included) into a segment,
        then exits. Then, for every rank: a gather of the builders' segment names and errors
        (the first barrier: an error in the file is raised on every rank, as the builder's
        child raised it), the mapping of this node's segment, a second gather (every rank has
        mapped it), and the builder unlinks the name. The segment is named by its key (what
        determines the list: `_segment_key`) and its owner, so a rank maps only what its own
        job's builder made with its own options; a name left by a killed owner is removed by
        the next build on the node.
        """
        if (self._fully_initialized or not self.serialize_data or not self.shared_memory
                or get_worker_info() is not None):       # lazy_init ending in a worker: plain
            return super().full_init()
        key = self._segment_key()
        _, world = get_dist_info()
        builds = world == 1 or os.environ.get('LOCAL_RANK', '0') == '0'
        name = error = child = None
        if builds:
            shared_buffer.remove_stale()
            name = shared_buffer.segment_name(key)
            try:
                child = shared_buffer.build_in_child(self._build_serialized, name, key)
            except Exception as e:
                error = e
        try:
            reports = self._gather((name, error))
            error = None
            try:        # a rank that cannot map says so in the second gather: every rank raises
                if not builds:  # its error (none is left waiting in a collective, to abort)
                    name = self._segment_of_this_node([n for n, _ in reports], key)
                state, data_bytes, data_address = shared_buffer.map_segment(name, key)
            except Exception as e:
                error = e
            self._gather((None, error))            # every rank of the node has mapped it
        finally:
            if builds:
                shared_buffer.unlink(name)
        self.__dict__.update(state)
        self.data_bytes, self.data_address = data_bytes, data_address
        self.shared_segment = dict(name=name, nbytes=data_bytes.nbytes, built_in_pid=child)

    def _build_serialized(self, writer):
        """In the child: mmengine's `full_init`, its records serialized into `writer`; returns
        everything else `full_init` set on the dataset."""
        self._segment_writer = writer
        super().full_init()
        skip = ('pipeline', 'data_bytes', 'data_address', '_segment_writer')
        state = {k: v for k, v in vars(self).items() if k not in skip}
        state['data_list'] = []                 # as mmengine's _serialize_data leaves it
        return state

    def _serialize_data(self):
        writer = self.__dict__.get('_segment_writer')
        if writer is None:
            return super()._serialize_data()
        # In the build child: mmengine's records (one protocol-4 pickle each), straight into the
        # segment. Its list of arrays, their concatenation and the freeing of the parse (followed
        # by a gc.collect() over it) would cost the child 1.5 GiB more and seconds for LVIS v1
        # train; the child exits instead.
        for info in self.data_list:
            writer.append(pickle.dumps(info, protocol=4))
        return None, None

    def _segment_key(self):
        """What determines the data list: the file's content (`io.file_digest`, the package's one
        rule for keys; a remote file by its name alone), every argument of the dataset (its
        attributes before `full_init`: classes, split, val_fraction, split_seed, not_exhaustive,
        filter_cfg, test_mode, num_per_freq, seed, exclude_coco, data_root, data_prefix, indices,
        ...), the class and the versions of this package, mmdet and mmengine."""
        path = self.ann_file
        file_id = file_digest(path) if osp.isfile(path) else None
        options = sorted((k, repr(v)) for k, v in vars(self).items()
                         if k not in ('pipeline', 'data_list'))
        return shared_buffer.digest(f'{type(self).__module__}.{type(self).__qualname__}',
                                    __version__, mmdet.__version__, mmengine.__version__,
                                    file_id, options)

    @staticmethod
    def _gather(report):
        """Every rank's (segment name, error); raises the first error on every rank."""
        name, error = report
        if error is not None:
            error = shared_buffer._portable(error)
        reports = all_gather_object((name, error))
        first = next((e for _, e in reports if e is not None), None)
        if first is not None:
            raise report[1] if report[1] is not None else first
        return reports

    def _segment_of_this_node(self, names, key):
        on_node = [n for n in names if n and osp.exists(osp.join(shared_buffer.SHM_DIR, n))]
        here = [n for n in on_node if shared_buffer.parse_name(n)['key'] == key]
        if not here and on_node:
            theirs = shared_buffer.parse_name(on_node[0])['key']
            raise RuntimeError(
                f'{self.ann_file}: this rank\'s data-list key ({key}) is not the one this node\'s '
                f'builder (local rank 0) used ({theirs}): the ranks read a different annotation '
                'file or dataset options (the file was changed during start-up, or each rank '
                'names another file or option). Give every rank the same file and options, or '
                'build the dataset with shared_memory=False')
        if not here:
            raise RuntimeError(
                f'{self.ann_file}: LOCAL_RANK={os.environ.get("LOCAL_RANK")} but no rank of '
                f'this node built the data list ({shared_buffer.SHM_DIR} holds none of {names}): is '
                'LOCAL_RANK 0 on every node?')
        return here[0]

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
