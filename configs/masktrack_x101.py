# MaskTrack R-CNN, ResNeXt-101 64x4d FPN, YouTube-VIS 2019, 12 epochs.
_base_ = [
    './_base_/models/masktrack_rcnn_r50_fpn.py',
    './_base_/datasets/ytvis2019.py', './_base_/schedule_12e.py'
]
model = dict(
    detector=dict(
        backbone=dict(type='ResNeXt', depth=101, groups=64, base_width=4),
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmdetection/v2.0/'
            'mask_rcnn/mask_rcnn_x101_64x4d_fpn_1x_coco/'
            'mask_rcnn_x101_64x4d_fpn_1x_coco_20200201-9352eb0d.pth')))
