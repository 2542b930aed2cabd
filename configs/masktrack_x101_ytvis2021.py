# The x101 MaskTrack R-CNN on YouTube-VIS 2021 (40 classes, 2021 layout:
# train/instances.json, valid/instances.json).
_base_ = ['./masktrack_x101.py']
data_root = 'data/youtube_vis_2021/'
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='train/instances.json'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='valid/instances.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'valid/instances.json')
test_evaluator = val_evaluator
