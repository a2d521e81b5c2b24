# Experiment 2, default anchors: small-object categories, frequent grape, crumb; common pea_(food),
# peach; rare apricot, crouton. Otherwise Baseline+.
_base_ = './mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py'

classes = ('grape', 'crumb', 'pea_(food)', 'peach', 'apricot', 'crouton')
