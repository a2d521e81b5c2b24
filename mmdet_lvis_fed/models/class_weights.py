"""Which (RoI, class) terms a sigmoid classification loss keeps: federated and EQL weights.

Pure torch, no mmdet: the rules are tested by hand computation.

LVIS is federated. On image b only the annotated classes P_b (positives) and the verified-absent
classes N_b (`neg_category_ids`) are known; for every other class nobody looked, so calling an RoI
"not class j" there teaches background where there may be an unannotated j. The federated loss
therefore keeps, for an RoI on image b, only the classes S_b = P_b | N_b (| U, see `unknown`).
Classes in `not_exhaustive_category_ids` (E_b) are present but not every instance was annotated:
an RoI that matches none of their annotated instances may still be one of the missing ones, so
their negative term goes and their positive term stays.
"""
from typing import Optional, Sequence

import torch

UNKNOWN_POLICIES = ('exclude', 'include', 'sample')


def _as_long(x, device):
    return torch.as_tensor(x if x is not None else [], dtype=torch.long, device=device).reshape(-1)


def sampled_classes(pos_classes: torch.Tensor, num_classes: int, num_sampled: int,
                    class_freq: Optional[torch.Tensor] = None, freq_weight_power: float = 0.5,
                    generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Zhou et al.'s federated-loss class set: the batch's positive classes plus classes drawn
    without replacement with p_j proportional to freq_j ** power, up to `num_sampled` in all
    (never fewer than the positives). Returns a (K,) bool mask.
    """
    device = pos_classes.device
    chosen = torch.zeros(num_classes, dtype=torch.bool, device=device)
    chosen[pos_classes] = True
    extra = int(num_sampled) - int(chosen.sum())
    if extra > 0:
        freq = (torch.ones(num_classes, device=device) if class_freq is None
                else class_freq.to(device=device, dtype=torch.float).clamp(min=0))
        w = freq.pow(freq_weight_power)
        w[chosen] = 0
        avail = int((w > 0).sum())
        if avail:
            draw = torch.multinomial(w.cpu(), min(extra, avail), replacement=False,
                                     generator=generator).to(device)
            chosen[draw] = True
    return chosen


def federated_class_weights(labels: torch.Tensor, roi_img: torch.Tensor,
                            pos_labels: Sequence, neg_labels: Sequence, ne_labels: Sequence,
                            num_classes: int, unknown: str = 'exclude',
                            sampled: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(N, K) 0/1 weights of a sigmoid loss's class terms under the federated rules.

    Args:
        labels: (N,) RoI targets in 0..K (K = background).
        roi_img: (N,) image index of each RoI in the batch.
        pos_labels, neg_labels, ne_labels: per image, the ground-truth labels after augmentation
            (P_b), the verified negatives (N_b) and the not-exhaustive labels (E_b).
        num_classes: K.
        unknown: classes neither positive nor verified negative on the image: 'exclude' drops them
            (strictly federated), 'include' keeps every class, 'sample' keeps the shared set
            `sampled` (see `sampled_classes`).
        sampled: (K,) bool mask, for unknown='sample'.

    Returns:
        w with w[i, j] = 1[j in S_b] * (1 - 1[j in E_b] * (1 - y_ij)), S_b = P_b | N_b | U, for
        RoI i on image b, y_ij = 1[labels_i == j].
    """
    if unknown not in UNKNOWN_POLICIES:
        raise ValueError(f'unknown must be one of {UNKNOWN_POLICIES}, not {unknown!r}')
    device = labels.device
    num_imgs = len(pos_labels)
    if not (len(neg_labels) == len(ne_labels) == num_imgs):
        raise ValueError(f'one list per image: got {num_imgs} positive, {len(neg_labels)} '
                         f'negative and {len(ne_labels)} not-exhaustive lists')
    known = torch.zeros(num_imgs, num_classes, dtype=torch.bool, device=device)
    not_exh = torch.zeros_like(known)
    for b in range(num_imgs):
        for mask, lst in ((known, pos_labels[b]), (known, neg_labels[b]), (not_exh, ne_labels[b])):
            lst = _as_long(lst, device)
            lst = lst[(lst >= 0) & (lst < num_classes)]
            mask[b, lst] = True
    if unknown == 'include':
        known[:] = True
    elif unknown == 'sample':
        if sampled is None:
            raise ValueError("unknown='sample' needs the sampled class set")
        known |= sampled.to(device).view(1, -1)
    roi_img = roi_img.long()
    keep = known[roi_img]
    onehot = torch.zeros_like(keep)
    fg = labels < num_classes
    onehot[fg.nonzero().squeeze(1), labels[fg].long()] = True
    keep &= ~(not_exh[roi_img] & ~onehot)        # NE: negative term off, positive term stays
    return keep.to(torch.float32)


def eql_weights(labels: torch.Tensor, num_classes: int, class_freq: torch.Tensor,
                lambda_: float) -> torch.Tensor:
    """Equalization loss (Tan et al. 2020): w_ij = 1 - E_i * T_lambda(f_j) * (1 - y_ij).

    E_i = 1 for foreground RoIs; T_lambda(f) = 1[f < lambda], f_j the share of the training file's
    images that contain j: a foreground RoI of another class no longer pushes a rare class down.
    """
    fg = (labels < num_classes).to(torch.float32).view(-1, 1)
    tail = (class_freq.to(labels.device, torch.float32) < lambda_).to(torch.float32).view(1, -1)
    onehot = torch.zeros(len(labels), num_classes, device=labels.device)
    idx = (labels < num_classes).nonzero().squeeze(1)
    onehot[idx, labels[idx].long()] = 1
    return 1 - fg * tail * (1 - onehot)
