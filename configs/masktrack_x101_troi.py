# MaskTrack R-CNN + Temporal RoI Align, ResNeXt-101 64x4d FPN, YouTube-VIS
# 2019 (see masktrack_r50_troi.py for the temporal settings).
_base_ = ['./masktrack_r50_troi.py']
model = dict(
    detector=dict(
        backbone=dict(type='ResNeXt', depth=101, groups=64, base_width=4),
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmdetection/v2.0/'
            'mask_rcnn/mask_rcnn_x101_64x4d_fpn_1x_coco/'
            'mask_rcnn_x101_64x4d_fpn_1x_coco_20200201-9352eb0d.pth')))
