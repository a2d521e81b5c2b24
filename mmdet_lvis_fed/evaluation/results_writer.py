"""Write detections in the LVIS results format (`results_schema`), whole or not at all."""
import msgspec

from ..io import atomic_write
from .detections import Detections
from .results_schema import RLE, Result


def write_results_json(dets: Detections, iou_type: str, path: str):
    """The LVIS results format (image_id, category_id, bbox x y w h, score [, segmentation]),
    written whole or not at all; masks for 'segm' and 'boundary'."""
    rows = [Result(int(i), int(c), float(s), tuple(float(v) for v in b))
            for i, c, s, b in zip(dets.image_id, dets.category_id, dets.score, dets.bbox)]
    if iou_type in ('segm', 'boundary'):
        for k, row in enumerate(rows):
            rle = dets.segm[k]
            row.segmentation = RLE(tuple(rle['size']), rle['counts'].decode())
    data = msgspec.json.encode(rows)
    return atomic_write(path, lambda f: f.write(data), binary=True)
