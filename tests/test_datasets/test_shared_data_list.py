"""The shared-memory data list (datasets/shared_data_list.py, over the segment format of
shared_buffer.py), through LVISFedDataset and a plain mmengine dataset: the same list as
mmengine's plain path, built in a child process, one segment per node, nothing left in /dev/shm."""
import json
import mmap
import os
import os.path as osp
import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mmengine.dataset import BaseDataset

from mmdet_lvis_fed import shared_buffer
from mmdet_lvis_fed.datasets.lvis_fed import LVISFedDataset
from mmdet_lvis_fed.datasets.shared_data_list import SharedDataListMixin
from mmdet_lvis_fed.dist_cpu import start_local_ranks
from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.testing.synthetic import make_ground_truth
from tests.conftest import ROOT
from tests.test_datasets.test_lvis_fed_dataset import v1_data, write

pytestmark = pytest.mark.skipif(not osp.isdir(shared_buffer.SHM_DIR), reason='no /dev/shm')


def build(ann_file, cls=LVISFedDataset, **kw):
    kw.setdefault('check_files', False)
    return cls(ann_file=str(ann_file), data_prefix=dict(img=''), pipeline=[], **kw)


def own_segments():
    """Segments in /dev/shm owned by this process (other test runs may share the machine)."""
    return [n for n in shared_buffer.segments()
            if (shared_buffer.parse_name(n) or {}).get('pid') == os.getpid()]


def mapped_segments(pid='self'):
    """(inode, name) of the segments mapped into process `pid`."""
    from mmdet_lvis_fed.procfs import mappings
    return mappings(pid, shared_buffer.PREFIX)


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp('gen') / 'gen.json'
    path.write_text(json.dumps(make_ground_truth(60, num_cats=30, seed=3)))
    return path


CASES = {
    'v0.5 sample, all categories, train': dict(),
    'v0.5 sample, 2/2/1, test mode, keep': dict(num_per_freq=dict(f=2, c=2, r=1), seed=1,
                                                test_mode=True, not_exhaustive='keep'),
    'generated, val split, indices': dict(split='val', val_fraction=0.5, indices=7),
}


@pytest.mark.parametrize('case', list(CASES))
def test_same_list_and_metainfo_as_the_plain_path(case, lvis_val_100, generated):
    ann = generated if case.startswith('generated') else lvis_val_100
    plain = build(ann, shared_memory=False, **CASES[case])
    shared = build(ann, **CASES[case])
    assert len(shared) == len(plain) > 0
    for i in range(len(plain)):
        assert shared.get_data_info(i) == plain.get_data_info(i)
    assert shared.metainfo == plain.metainfo
    assert len(shared.metainfo['subset_image_count']) == len(shared.metainfo['classes'])
    assert shared.data_bytes.tobytes() == plain.data_bytes.tobytes()
    np.testing.assert_array_equal(shared.data_address, plain.data_address)
    # everything else full_init set on the dataset came back too (cat_ids, cat2label, ...)
    other = {k: v for k, v in vars(shared).items()
             if k not in ('pipeline', 'data_bytes', 'data_address', 'shared_segment')}
    assert other.keys() == vars(plain).keys() - {'pipeline', 'data_bytes', 'data_address'}
    for k, v in other.items():
        if k != 'shared_memory':
            assert pickle.dumps(v) == pickle.dumps(getattr(plain, k)), k
    assert own_segments() == []                     # the name was unlinked at once
    # a subset of it (mmengine's get_subset slices the arrays) is still the same list
    assert [d['img_id'] for d in shared.get_subset(3)] == [d['img_id'] for d in plain.get_subset(3)]


def test_serialize_data_false_is_mmengines_plain_list(lvis_val_100):
    ds = build(lvis_val_100, serialize_data=False)
    assert not hasattr(ds, 'shared_segment') and len(ds.data_list) == len(ds) > 0
    assert ds.get_data_info(0) == build(lvis_val_100, shared_memory=False).get_data_info(0)


class Squares(SharedDataListMixin, BaseDataset):
    """Any mmengine dataset: records computed from the annotation file's one number."""

    def __init__(self, *args, shared_memory=True, **kw):
        self.shared_memory = shared_memory
        super().__init__(*args, **kw)

    def load_data_list(self):
        with open(self.ann_file) as f:
            n = int(f.read())
        return [dict(img_id=i, square=i * i, built_in=os.getpid()) for i in range(n)]


def test_the_mixin_shares_any_mmengine_datasets_list(tmp_path):
    ann = tmp_path / 'n.txt'
    ann.write_text('7')
    ds = Squares(ann_file=str(ann), pipeline=[])
    assert [ds.get_data_info(i)['square'] for i in range(len(ds))] == [0, 1, 4, 9, 16, 25, 36]
    assert ds.get_data_info(0)['built_in'] == ds.shared_segment['built_in_pid'] != os.getpid()
    assert isinstance(ds.data_bytes.base.obj, mmap.mmap)
    plain = Squares(ann_file=str(ann), pipeline=[], shared_memory=False)
    assert not hasattr(plain, 'shared_segment')
    assert plain.get_data_info(6)['square'] == 36 and plain.get_data_info(6)['built_in'] == os.getpid()
    # the key follows the file's content
    key = ds._segment_key()
    ann.write_text('8')
    assert Squares(ann_file=str(ann), pipeline=[], lazy_init=True)._segment_key() != key
    assert not own_segments()


class RecordsPID(LVISFedDataset):
    def load_data_list(self):
        data_list = super().load_data_list()
        self._metainfo['parsed_in_pid'] = os.getpid()
        return data_list


def test_the_parse_runs_in_a_child_and_the_parent_maps_the_buffer(lvis_val_100):
    ds = build(lvis_val_100, cls=RecordsPID)
    parsed_in = ds.metainfo['parsed_in_pid']
    assert parsed_in != os.getpid() and parsed_in == ds.shared_segment['built_in_pid']
    with pytest.raises(ChildProcessError):           # the child has exited and been reaped
        os.waitpid(parsed_in, os.WNOHANG)
    plain = build(lvis_val_100, cls=RecordsPID, shared_memory=False)
    assert ds.data_bytes.nbytes == ds.shared_segment['nbytes'] == plain.data_bytes.nbytes
    # the arrays are read-only views over the mapping of the (already unlinked) segment
    assert isinstance(ds.data_bytes.base.obj, mmap.mmap) and not ds.data_bytes.flags.writeable
    mapped = mapped_segments()
    assert ds.shared_segment['name'] in {n for _, n in mapped}
    assert not osp.exists(osp.join(shared_buffer.SHM_DIR, ds.shared_segment['name']))
    del ds, plain


def test_stale_segments_are_removed_at_the_next_build(lvis_val_100):
    key = '0' * 32
    # a rank killed before it unlinked: its PID and start time are real, the process is gone
    victim = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    killed = shared_buffer.segment_name(key, pid=victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    me = shared_buffer.parse_name(shared_buffer.segment_name(key))
    reused = f'{shared_buffer.PREFIX}{key}_{me["boot"]}_{os.getpid()}_1'     # PID reused since
    old_boot = f'{shared_buffer.PREFIX}{key}_000000000000_{os.getpid()}_{me["start"]}'
    alive = shared_buffer.segment_name(key)                                  # owner alive: kept
    foreign = f'{shared_buffer.PREFIX}not-one-of-ours'
    names = (killed, reused, old_boot, alive, foreign)
    for name in names:
        shared_buffer.write_segment(name, key, {}, np.zeros(3, np.uint8), np.array([3]))
    try:
        build(lvis_val_100)
        left = set(shared_buffer.segments())
        assert not left & {killed, reused, old_boot}
        assert {alive, foreign} <= left
    finally:
        for name in names:
            shared_buffer.unlink(name)


def test_a_segment_of_another_key_is_never_mapped(lvis_val_100, tmp_path):
    ds = build(lvis_val_100, lazy_init=True)
    key = ds._segment_key()
    assert build(lvis_val_100, lazy_init=True)._segment_key() == key
    for other in (dict(split='val'), dict(not_exhaustive='keep'), dict(test_mode=True),
                  dict(num_per_freq=dict(f=1)), dict(filter_cfg=None),
                  dict(metainfo=dict(classes=('aerosol_can',)))):
        assert build(lvis_val_100, lazy_init=True, **other)._segment_key() != key, other
    copy = tmp_path / 'copy.json'
    copy.write_bytes(open(lvis_val_100, 'rb').read())
    first = build(copy, lazy_init=True)._segment_key()
    os.utime(copy, ns=(1, 1))          # touched: the same bytes are the same data list
    assert build(copy, lazy_init=True)._segment_key() == first
    data = json.loads(copy.read_text())            # the same path, another version of the file
    data['images'][0]['height'] += 1
    copy.write_text(json.dumps(data))
    os.utime(copy, ns=(1, 1))          # even with the old mtime
    assert build(copy, lazy_init=True)._segment_key() != first
    name = shared_buffer.segment_name('1' * 32)
    shared_buffer.write_segment(name, '1' * 32, {}, np.zeros(3, np.uint8), np.array([3]))
    try:
        with pytest.raises(ValueError, match='holds another data list'):
            shared_buffer.map_segment(name, key)
        # a rank that is not a builder maps only a segment of its own key; one of another key
        # on this node is named as the mismatch it is
        with pytest.raises(RuntimeError, match=f"this rank's data-list key \\({key}\\) is not "
                                               f"the one this node's builder .* used \\({'1' * 32}"):
            ds._segment_of_this_node([name, None], key)
        with pytest.raises(RuntimeError, match='no rank of this node built the data list'):
            ds._segment_of_this_node([None, None], key)
    finally:
        shared_buffer.unlink(name)


def test_an_error_in_the_file_is_raised_in_the_parent_as_itself(tmp_path):
    data = v1_data()
    data['annotations'][0]['bbox'] = [1, 1, -10, 10]
    ann = write(tmp_path / 'bad box.json', data)
    with pytest.raises(LVISFormatError) as plain:
        build(ann, shared_memory=False, metainfo=dict(classes=('a_f',)))
    with pytest.raises(LVISFormatError) as shared:
        build(ann, metainfo=dict(classes=('a_f',)))
    assert type(shared.value) is LVISFormatError
    assert str(shared.value) == str(plain.value)
    assert str(shared.value).startswith(f'{ann}: annotations[0]: field "bbox": [1, 1, -10, 10]')
    assert own_segments() == []


class DiesInTheParse(LVISFedDataset):
    def load_data_list(self):
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_child_killed_in_the_build_is_an_error_not_a_hang(lvis_val_100):
    with pytest.raises(RuntimeError, match=r'died \(signal SIGKILL\)'):
        build(lvis_val_100, cls=DiesInTheParse)
    assert own_segments() == []


RANK = textwrap.dedent('''
    import os, pickle, sys
    import torch.distributed as dist
    import mmdet_lvis_fed.plugin  # noqa: F401
    from mmengine.registry import init_default_scope
    from torch.utils.data import DataLoader
    from mmdet_lvis_fed.datasets.lvis_fed import LVISFedDataset
    from tests.test_datasets.test_shared_data_list import mapped_segments

    def in_worker(batch):
        return [(d['img_id'], sorted(mapped_segments())) for d in batch]

    init_default_scope('mmdet')
    dist.init_process_group('gloo')
    ann, bad, out = sys.argv[1:]
    ds = LVISFedDataset(ann_file=ann, data_prefix=dict(img=''), pipeline=[], check_files=False)
    res = dict(infos=[ds.get_data_info(i) for i in range(len(ds))], metainfo=ds.metainfo,
               segment=ds.shared_segment, mapped=sorted(mapped_segments()))
    loader = DataLoader(ds, batch_size=2, num_workers=1, collate_fn=in_worker)
    res['worker'] = [x for batch, _ in zip(loader, range(2)) for x in batch]
    try:
        LVISFedDataset(ann_file=bad, data_prefix=dict(img=''), pipeline=[], check_files=False,
                       metainfo=dict(classes=('a_f',)))
    except Exception as e:
        res['error'] = (type(e).__name__, str(e))
    with open(out, 'wb') as f:
        pickle.dump(res, f)
    dist.destroy_process_group()
''')


def test_two_gloo_ranks_map_one_segment(lvis_val_100, tmp_path):
    data = v1_data()
    data['annotations'][0]['bbox'] = [1, 1, 10, float('inf')]
    bad = write(tmp_path / 'bad.json', data)
    procs = start_local_ranks(
        lambda rank: [sys.executable, '-c', RANK, str(lvis_val_100), str(bad),
                      str(tmp_path / f'{rank}.pkl')], 2,
        env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    pids = [p.pid for p in procs]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    for err in errs:
        assert 'leaked' not in err and 'resource_tracker' not in err, err
    r0, r1 = (pickle.load(open(tmp_path / f'{r}.pkl', 'rb')) for r in range(2))
    plain = build(lvis_val_100, shared_memory=False)
    assert r0['infos'] == r1['infos'] == [plain.get_data_info(i) for i in range(len(plain))]
    assert r0['metainfo'] == r1['metainfo'] == plain.metainfo
    # one segment, built by a child of rank 0, mapped (same inode) by both ranks and a worker each
    assert r0['segment']['name'] == r1['segment']['name']
    assert r0['segment']['built_in_pid'] not in (None, *pids)
    assert r1['segment']['built_in_pid'] is None
    assert shared_buffer.parse_name(r0['segment']['name'])['pid'] == pids[0]
    assert len(r0['mapped']) == 1 and r0['mapped'] == r1['mapped']
    for r in (r0, r1):
        assert [m for _, m in r['worker']] == [r0['mapped']] * 4
    # the builder's error is every rank's error
    assert r0['error'] == r1['error'] == ('LVISFormatError', r1['error'][1])
    assert r1['error'][1].startswith(f'{bad}: annotations[0]: field "bbox"')
    assert [n for n in shared_buffer.segments()
            if shared_buffer.parse_name(n) and shared_buffer.parse_name(n)['pid'] in pids] == []


MISMATCH = textwrap.dedent('''
    import sys
    import torch.distributed as dist
    import mmdet_lvis_fed.plugin  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmdet_lvis_fed.datasets.lvis_fed import LVISFedDataset
    init_default_scope('mmdet')
    dist.init_process_group('gloo')
    try:
        LVISFedDataset(ann_file=sys.argv[1], data_prefix=dict(img=''), pipeline=[],
                       check_files=False)
    except RuntimeError as e:
        print('ERROR', str(e).splitlines()[0], flush=True)
    dist.destroy_process_group()
''')


def test_ranks_that_disagree_on_the_key_all_say_so(lvis_val_100, tmp_path):
    # each rank names its own copy of the file (another path: another key)
    for rank in range(2):
        (tmp_path / f'copy{rank}.json').write_bytes(open(lvis_val_100, 'rb').read())
    procs = start_local_ranks(
        lambda rank: [sys.executable, '-c', MISMATCH, str(tmp_path / f'copy{rank}.json')], 2,
        env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=300) for p in procs]
    # no rank is left in a collective to abort: both end normally, with the mismatch named
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    for out, _ in outs:
        assert "ERROR " in out and "data-list key" in out and 'shared_memory=False' in out, out
    assert 'copy1.json' in outs[0][0] and 'copy1.json' in outs[1][0]
