# MaskTrack R-CNN, ResNet-50 FPN, YouTube-VIS 2019, 12 epochs.
_base_ = [
    './_base_/models/masktrack_rcnn_r50_fpn.py',
    './_base_/datasets/ytvis2019.py', './_base_/schedule_12e.py'
]
