# MaskTrack R-CNN + Temporal RoI Align, ResNeXt-101 64x4d, YouTube-VIS 2021.
_base_ = ['./masktrack_x101_troi.py']
data_root = 'data/youtube_vis_2021/'
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='train/instances.json'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='valid/instances.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'valid/instances.json')
test_evaluator = val_evaluator
