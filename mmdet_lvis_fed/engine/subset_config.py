"""Config values that depend on the subset, derived when the run starts rather than at parse time.

mmengine evaluates a base config before a child overrides it: `num_classes=len(classes)` in a base
keeps the base's count when a child changes `classes`, and `**subset` spread into the dataloaders
never sees a child's `subset`. So the experiment-level choices live at the top level of a config:

    classes = ('coffee_maker', ...)                      # or
    subset = dict(num_per_freq=dict(f=2, c=2, r=2), seed=0, exclude_coco=True, ...)

and `apply_subset(cfg)` (run by `LVISFedRunner` before anything is built) writes them into every
LVISFedDataset of the train, val and test dataloaders, through dataset wrappers (a key that a
dataset sets itself wins over `subset`: `not_exhaustive='keep'` for training alone), and sets
`num_classes` of the bbox head, the mask head and the class loss when K follows from the config
(K = len(classes) or the sum of num_per_freq). Where K is read from the annotation file (no
classes, no num_per_freq), `NumClassesCheckHook` compares the heads with the dataset at start-up.
"""
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
MIXING = ('Mosaic', 'MixUp', 'CachedMosaic', 'CachedMixUp')


def dataset_chain(loader_cfg):
    """The dataset configs of a dataloader from the outermost wrapper to the innermost dataset."""
    chain, ds = [], (loader_cfg or {}).get('dataset')
    while isinstance(ds, dict):
        chain.append(ds)
        ds = ds.get('dataset')
    return chain


def _heads(model_cfg):
    roi = (model_cfg or {}).get('roi_head') or {}
    for key in ('bbox_head', 'mask_head'):
        heads = roi.get(key)
        for head in (heads if isinstance(heads, (list, tuple)) else [heads]):
            if isinstance(head, dict):
                yield key, head


def subset_num_classes(cfg):
    """K as the config determines it, or None when it is read from the annotation file."""
    classes = cfg.get('classes')
    npf = (cfg.get('subset') or {}).get('num_per_freq')
    if classes is not None and npf is not None:
        raise ValueError('the config sets both classes=(...) and subset.num_per_freq: choose one')
    if classes is not None:
        return len(classes)
    if npf is not None:
        if any(int(v) < 0 for v in npf.values()):
            raise ValueError(f'subset.num_per_freq counts must be >= 0, got {dict(npf)}')
        return sum(int(v) for v in npf.values())
    return None


def apply_subset(cfg):
    """Write the top-level `classes` / `subset` into every LVISFedDataset, and derive K. In place;
    returns K or None."""
    classes, subset = cfg.get('classes'), dict(cfg.get('subset') or {})
    k = subset_num_classes(cfg)
    for loader in LOADERS:
        for ds in dataset_chain(cfg.get(loader)):
            if ds.get('type') != 'LVISFedDataset':
                continue
            for key, value in subset.items():
                ds.setdefault(key, value)          # a key set on the dataset itself wins
            if classes is not None:
                meta = dict(ds.get('metainfo') or {})
                given = meta.get('classes')
                if given is not None and tuple(given) != tuple(classes):
                    raise ValueError(
                        f'{loader}.dataset.metainfo.classes {tuple(given)} differs from the '
                        f'top-level classes {tuple(classes)}: set the classes in one place, at the '
                        'top level')
                meta['classes'] = tuple(classes)
                ds['metainfo'] = meta
    for _, head in _heads(cfg.get('model')):
        if k is not None:
            head['num_classes'] = k
        loss = head.get('loss_cls')
        if isinstance(loss, dict) and 'num_classes' in loss:   # Seesaw, EQLv2, ours: K too
            loss['num_classes'] = head.get('num_classes')
    return k


def check_mixing(cfg):
    """mmdet 3.3's Mosaic and MixUp move boxes and labels but leave `gt_masks` as they were: with
    masks every mixed image trains on wrong masks (or fails in PackDetInputs). Refuse them."""
    with_masks = any(key == 'mask_head' for key, _ in _heads(cfg.get('model')))
    for loader in LOADERS:
        transforms = [t for ds in dataset_chain(cfg.get(loader)) for t in ds.get('pipeline') or ()
                      if isinstance(t, dict)]
        loads_masks = any(t.get('type') == 'LoadAnnotations' and t.get('with_mask')
                          for t in transforms)
        mixing = [t['type'] for t in transforms if t.get('type') in MIXING]
        if mixing and (with_masks or loads_masks):
            raise ValueError(
                f'{loader}: {mixing[0]} with instance masks: mmdet 3.3 mixes boxes and labels but '
                'leaves gt_masks unchanged, so the masks no longer match. Use FedCopyPaste for '
                'mask models, or drop the mask head and with_mask for a box-only model')
