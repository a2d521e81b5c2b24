"""The compiled results scanner (results_scan.py) against msgspec's typed decode of the same
bytes (results_json's other reader): the same columns bit for bit on files written every way
JSON allows (key order, whitespace, number notations, escapes), and a step aside (None) for
everything outside its fast path, after which results_json reads the file as before."""
import json
import random

import numpy as np
import pytest

from mmdet_lvis_fed.evaluation import results_scan
from mmdet_lvis_fed.evaluation.results_json import _columns, results_from_json
from mmdet_lvis_fed.evaluation.results_scan import scan_results
from mmdet_lvis_fed.evaluation.results_schema import DECODER

WS = ['', ' ', '\n', '\t', '\r\n  ', '  ']


def number_text(x, rng):
    """x written in one of the ways JSON writers write a double."""
    choice = rng.randrange(9)
    if choice == 0:
        return '%.17g' % x
    if choice == 1:
        return f'{x:e}'
    if choice == 2:
        return f'{x:E}'.replace('E+', 'E')
    if choice == 3:
        return f'{x:.3f}'
    if choice == 4:
        return repr(float(np.float32(x)))             # mmdet: float() of a float32
    if choice == 5:
        return str(int(x))
    if choice == 6:
        return '%.17g' % float(np.float32(x))         # a float32's exact decimal
    return repr(float(x))


def counts_text(rng):
    """A JSON string of printable ASCII (the scanner does not read RLE: any text will do),
    escaped as json.dumps does, '/' sometimes as the escape '\\/'."""
    s = ''.join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(0, 40)))
    return json.dumps(s).replace('/', '\\/' if rng.random() < 0.5 else '/')


def write(records, rng):
    """records: (image_id, category_id, score, bbox or None, (size, counts) or None) as JSON
    text, keys shuffled, whitespace anywhere JSON allows it."""
    def ws():
        return rng.choice(WS)

    out = []
    for img, cat, score, bbox, segm in records:
        items = [('image_id', str(img)), ('category_id', str(cat)),
                 ('score', number_text(score, rng))]
        if bbox is not None:
            items.append(('bbox', '[' + ','.join(ws() + number_text(v, rng) + ws()
                                                 for v in bbox) + ']'))
        if segm is not None:
            size, counts = segm
            inner = [('size', f'[{ws()}{size[0]}{ws()},{ws()}{size[1]}{ws()}]'),
                     ('counts', counts)]
            rng.shuffle(inner)
            items.append(('segmentation', '{' + ','.join(
                f'{ws()}"{k}"{ws()}:{ws()}{v}{ws()}' for k, v in inner) + '}'))
        rng.shuffle(items)
        out.append('{' + ','.join(f'{ws()}"{k}"{ws()}:{ws()}{v}{ws()}' for k, v in items) + '}')
    return (ws() + '[' + ws() + (',' + ws()).join(out) + ws() + ']' + ws()).encode()


def random_records(n, rng, boxes=True, masks=True):
    recs = []
    for _ in range(n):
        score = rng.choice([rng.random(), -rng.random() * 5, 0.0, rng.random() * 1e-7,
                            float(rng.randrange(0, 3))])
        bbox = [rng.random() * 1000 * rng.choice([1, 1e-3]) for _ in range(4)] if boxes else None
        segm = (([rng.randrange(1, 2000), rng.randrange(1, 2000)], counts_text(rng))
                if masks else None)
        recs.append((rng.randrange(-5, 10 ** rng.randrange(1, 18)), rng.randrange(0, 1300),
                     score, bbox, segm))
    return recs


def assert_same(got, ref):
    for key in ('image_id', 'category_id', 'score', 'bbox'):
        a, b = getattr(got, key), getattr(ref, key)
        assert a.dtype == b.dtype and a.shape == b.shape, key
        assert a.tobytes() == b.tobytes(), key                  # bit for bit, -0.0 included
    assert got.box_given == ref.box_given and got.source == ref.source
    if ref.segm is None:
        assert got.segm is None
        return
    assert bytes(got.segm.counts) == ref.segm.counts
    for key in ('offsets', 'heights', 'widths'):
        assert np.array_equal(getattr(got.segm, key), getattr(ref.segm, key)), key


@pytest.mark.parametrize('boxes, masks', [(True, True), (True, False)])
def test_same_columns_as_msgspec(boxes, masks):
    rng = random.Random(f'{boxes}{masks}')
    for trial in range(20):
        raw = write(random_records(rng.randrange(1, 60), rng, boxes, masks), rng)
        assert scan_results(raw) is not None, raw[:200]
        assert_same(results_from_json(raw, 'res.json'), _columns(DECODER.decode(raw),
                                                                 'res.json'))


def test_masks_only_as_msgspec():
    """No boxes: both take lvis-api's boxes of the masks (real RLE needed here)."""
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(0)
    recs = []
    for i in range(30):
        m = np.asfortranarray(rng.random((17, 23)) < 0.3, np.uint8)
        rle = mask_utils.encode(m)
        recs.append(dict(image_id=i, category_id=3, score=float(rng.random()),
                         segmentation=dict(size=[17, 23], counts=rle['counts'].decode())))
    raw = json.dumps(recs).encode()
    got = results_from_json(raw, 'res.json')
    assert not got.box_given
    assert_same(got, _columns(DECODER.decode(raw), 'res.json'))


def test_numbers_it_cannot_decide_are_read_by_float():
    # subnormal scores and coordinates, and exact 17-digit decimals
    texts = ['5e-324', '2.5e-310', '4.9406564584124654e-324', '1.7976931348623157e308',
             '0.98571014404296875', '6273802664282917.0']
    recs = ','.join(f'{{"image_id":1,"category_id":2,"score":{t},"bbox":[{t},1,{t},{t}]}}'
                    for t in texts)
    raw = f'[{recs}]'.encode()
    got = results_from_json(raw)
    assert got.score.tolist() == [float(t) for t in texts]
    assert_same(got, _columns(DECODER.decode(raw), None))


def test_too_many_undecided_numbers_step_aside(monkeypatch):
    monkeypatch.setattr(results_scan, 'MAX_UNDECIDED', 2)
    raw = b'[' + b','.join(b'{"image_id":1,"category_id":2,"score":5e-324,"bbox":[1,1,1,1]}'
                           for _ in range(3)) + b']'
    assert scan_results(raw) is None
    assert results_from_json(raw).score.tolist() == [5e-324] * 3


GOOD = '{"image_id":1,"category_id":2,"score":0.5,"bbox":[1,2,3,4]}'
SEGM = '"segmentation":{"size":[4,5],"counts":"PP1"}'


@pytest.mark.parametrize('text', [
    '[]', '  ',
    '{"image_id":1}',                                           # not a list
    f'[{GOOD},]', f'[{GOOD}] x', f'[{GOOD}',                     # not JSON
    GOOD.replace('1,', '1,"extra":7,', 1),                      # a key it does not know
    GOOD.replace('"score":0.5', '"score":0.5,"score":0.5'),     # a duplicate key
    GOOD.replace('"bbox":[1,2,3,4]', '"bbox":null'),
    GOOD.replace('[1,2,3,4]', '[1,2,3]'),
    GOOD.replace('"image_id":1', '"image_id":1.0'),
    GOOD.replace('"image_id":1', '"image_id":1234567890123456789'),   # 19 digits
    GOOD.replace('"image_id":1', '"image_id":01'),
    GOOD.replace('0.5', '.5'), GOOD.replace('0.5', '1.'), GOOD.replace('0.5', '+1'),
    GOOD.replace('0.5', 'NaN'), GOOD.replace('0.5', '"0.5"'), GOOD.replace('0.5', '1e400'),
    GOOD.replace('0.5', '0.12345678901234567890123'),           # more than 19 digits
    GOOD.replace('"image_id":1,', ''),                          # missing
    GOOD.replace('"image_id"', '"image\\u005fid"'),              # an escaped key
    GOOD.replace('}', ',' + SEGM.replace('PP1', 'P\\u0050') + '}'),
    GOOD.replace('}', ',' + SEGM.replace('PP1', 'P\\nP') + '}'),
    GOOD.replace('}', ',' + SEGM.replace('PP1', 'P\x01P') + '}'),
    GOOD.replace('}', ',' + SEGM.replace('PP1', 'Pé') + '}'),
    GOOD.replace('}', ',' + SEGM.replace('[4,5]', '[0,5]') + '}'),
    GOOD.replace('}', ',' + SEGM.replace('[4,5]', '[4,-5]') + '}'),
    GOOD.replace('}', ',' + SEGM.replace('"counts"', '"Counts"') + '}'),
    GOOD.replace('}', ',' + SEGM.replace(',"counts":"PP1"', '') + '}'),
])
def test_steps_aside(text):
    wrapped = text if text.strip().startswith(('[', '{"image_id":1}')) else f'[{text}]'
    assert scan_results(wrapped.encode()) is None


def test_mixed_presence_steps_aside_and_msgspec_reader_words_it():
    boxless = GOOD.replace(',"bbox":[1,2,3,4]', '')
    raw = f'[{GOOD},{boxless}]'.encode()
    assert scan_results(raw) is None
    with pytest.raises(Exception, match='record 1: field "bbox": missing'):
        results_from_json(raw, 'res.json')


def test_file_it_steps_aside_from_is_read_as_before():
    raw = ('[' + GOOD.replace('1,', '1,"extra":[{"x":null}],', 1) + ']').encode()
    assert scan_results(raw) is None
    assert_same(results_from_json(raw, 'r.json'), _columns(DECODER.decode(raw), 'r.json'))


@pytest.mark.parametrize('threads', [2, 3, 5])
def test_parts_in_threads_give_the_same_columns(monkeypatch, threads):
    """A large text is scanned in parts from guessed record starts; strings that hold '},{'
    (where a guess can land inside a string) and whitespace between records: the same columns
    as one scan and as msgspec, whether the guesses hold or the text is scanned again whole."""
    monkeypatch.setattr(results_scan, 'PART_BYTES', 64)
    rng = random.Random(threads)
    recs = random_records(300, rng)
    recs = [r[:4] + ((r[4][0], json.dumps('a},{' + json.loads(r[4][1]) + '},{')),)
            if i % 3 == 0 else r for i, r in enumerate(recs)]
    for raw in (write(recs, rng), json.dumps([
            dict(image_id=i, category_id=1, score=0.5, bbox=[1, 2, 3, 4],
                 segmentation=dict(size=[3, 4], counts='},{"image_id":7,' * (i % 4)))
            for i in range(200)]).encode()):
        got = scan_results(raw, threads)
        one = scan_results(raw, 1)
        for key in ('image_id', 'category_id', 'score', 'bbox', 'sizes', 'offsets', 'counts'):
            assert np.array_equal(got[key], one[key]), key
        assert_same(results_from_json(raw, 's'), _columns(DECODER.decode(raw), 's'))
