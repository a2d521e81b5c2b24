"""One serialized data list per node for any mmengine dataset: the rank protocol (who builds,
who maps, the gathers, the unlink) around the segment format of `mmdet_lvis_fed.shared_buffer`.

mmengine's `BaseDataset` keeps its serialized data list (`data_bytes`, `data_address`) in every
rank's heap, and the parse that built it leaves its freed objects there too: for LVIS v1 train,
gigabytes per rank (tools/README.md, "Memory of a node"). `SharedDataListMixin` builds the list once
per node in a short-lived child process and maps it from POSIX shared memory in every rank and
DataLoader worker. Put it before the dataset class in the bases:

    class MyDataset(SharedDataListMixin, BaseDataset): ...

It needs nothing of the dataset but mmengine's `full_init` / `_serialize_data` and `ann_file`;
`shared_memory = False` (an attribute or a constructor argument the dataset stores) turns it off.
"""
import os
import os.path as osp
import pickle

import mmdet
import mmengine
from mmengine.dist import all_gather_object, get_dist_info
from torch.utils.data import get_worker_info

from .. import __version__, shared_buffer
from ..forked_build import build_in_child, portable
from ..io import file_digest


class SharedDataListMixin:
    """mmengine's `full_init` built once per node into shared memory (see the module)."""

    shared_memory = True

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
                child = build_in_child(self._build_serialized, name, key)
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
            error = portable(error)
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
                f'this node built the data list ({shared_buffer.SHM_DIR} holds none of '
                f'{names}): is LOCAL_RANK 0 on every node?')
        return here[0]
