# MaskTrack R-CNN, ResNet-101 FPN, YouTube-VIS 2019, 12 epochs.
_base_ = [
    './_base_/models/masktrack_rcnn_r50_fpn.py',
    './_base_/datasets/ytvis2019.py', './_base_/schedule_12e.py'
]
model = dict(
    detector=dict(
        backbone=dict(depth=101),
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmdetection/v2.0/'
            'mask_rcnn/mask_rcnn_r101_fpn_1x_coco/'
            'mask_rcnn_r101_fpn_1x_coco_20200204-1efe0ed5.pth')))
