# Federated loss, and training also on the images where a category is not exhaustively annotated:
# their unannotated instances are not taught as background, because a not-exhaustive class keeps
# only its positive terms. The test split is unchanged (not_exhaustive='exclude' there).
_base_ = './mask-rcnn_r50_fpn_gn-scratch_fed-loss_demo-lt.py'

train_dataloader = dict(dataset=dict(not_exhaustive='keep'))
