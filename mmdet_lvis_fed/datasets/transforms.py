"""Transforms that keep each image's federated lists true after mixing images."""
import random

import numpy as np
from mmdet.datasets.transforms import CopyPaste
from mmdet.registry import TRANSFORMS

# PackDetInputs' meta_keys replace its defaults: mmdet's tuple plus the federated lists, so that
# they reach `data_sample.metainfo` (FedRoIHead reads them there).
FED_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                 'flip_direction', 'neg_labels', 'not_exhaustive_labels')


def merge_federated_lists(dst_neg, dst_ne, pasted_labels, src_ne):
    """The destination's lists after objects of `pasted_labels` were pasted in from a source.

    A pasted class is present now, so it is no longer verified absent; the source's
    not-exhaustive classes may have unannotated instances in the pasted pixels, so they join the
    destination's and leave its negatives too.
    """
    ne = sorted(set(int(x) for x in dst_ne) | set(int(x) for x in src_ne))
    gone = set(int(x) for x in pasted_labels) | set(ne)
    neg = sorted(int(x) for x in dst_neg if int(x) not in gone)
    return neg, ne


@TRANSFORMS.register_module()
class FedCopyPaste(CopyPaste):
    """mmdet's ``CopyPaste`` (same arguments, inside ``MultiImageMixDataset``) that also updates
    ``neg_labels`` and ``not_exhaustive_labels``: mmdet keeps the destination's lists, so a pasted
    class would stay listed as verified absent and the loss would teach its pixels as background.
    """

    def get_indexes(self, dataset):
        # mmdet draws randint(0, len(dataset)), whose upper end is one past the last index.
        return random.randint(0, len(dataset) - 1)

    def _copy_paste(self, dst_results, src_results):
        pasted = np.asarray(src_results['gt_bboxes_labels'])
        out = super()._copy_paste(dst_results, src_results)
        if len(pasted):
            out['neg_labels'], out['not_exhaustive_labels'] = merge_federated_lists(
                dst_results.get('neg_labels', ()), dst_results.get('not_exhaustive_labels', ()),
                pasted, src_results.get('not_exhaustive_labels', ()))
        return out
