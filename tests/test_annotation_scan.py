"""The byte scan of the annotations array (annotation_scan.py) on hand-written bytes."""
import json

from mmdet_lvis_fed.annotation_scan import annotations_region, scan_annotations

FILE = (b'{"images": [], "annotations": [{"id": 7, "image_id": 3, "category_id": 12, '
        b'"segmentation": [[1, 2, 3]]},\n  {"category_id" :  -4,"id":8 , "image_id": 123456789012345678}'
        b'], "categories": []}')


def test_region_and_columns_of_a_hand_written_array():
    begin, end = annotations_region(FILE)
    assert FILE[begin - 1:begin] == b'[' and FILE[end:end + 1] == b']'
    starts, image_id, category_id, ids = scan_annotations(FILE, begin, end)
    assert image_id.tolist() == [3, 123456789012345678]
    assert category_id.tolist() == [12, -4]
    assert ids.tolist() == [7, 8]
    # each annotation's bytes, from its '{' to the next one's (the last to the array's end)
    assert FILE[starts[0]:starts[0] + 1] == b'{' and starts[-1] == end
    chunks = [FILE[a:b].rstrip().rstrip(b',') for a, b in zip(starts[:-1], starts[1:])]
    assert [json.loads(c)['id'] for c in chunks] == [7, 8]


def test_shapes_it_does_not_read_answer_none():
    def scan(text):
        region = annotations_region(text)
        return region and scan_annotations(text, *region)
    # an RLE segmentation is a nested object
    assert scan(b'{"annotations": [{"id": 1, "image_id": 1, "category_id": 1, '
                b'"segmentation": {"size": [1, 1], "counts": "1"}}]}') is None
    # 19 digits may not fit in an int64; a string id; a missing key
    assert scan(b'{"annotations": [{"id": 1234567890123456789, "image_id": 1, '
                b'"category_id": 1}]}') is None
    assert scan(b'{"annotations": [{"id": "1", "image_id": 1, "category_id": 1}]}') is None
    assert scan(b'{"annotations": [{"image_id": 1, "category_id": 1}]}') is None
    # two annotations arrays: which one is the file's cannot be told from the bytes
    assert annotations_region(b'{"annotations": [], "x": {"annotations": []}}') is None
    # an empty array
    text = b'{"annotations": [ ], "images": []}'
    begin, end = annotations_region(text)
    assert text[begin:end].strip() == b''
