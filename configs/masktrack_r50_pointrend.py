# MaskTrack R-CNN, ResNet-50 FPN, YouTube-VIS 2019, 12 epochs, with PointRend
# masks (configs/_base_/models/pointrend_roi_head.py, mmdet's PointRend
# settings). The backbone, FPN, RPN and box head start from the COCO Mask
# R-CNN checkpoint as in masktrack_r50.py; the coarse and point heads start
# fresh and train jointly (loss_point). See docs/refinement.md.
_base_ = ['./masktrack_r50.py', './_base_/models/pointrend_roi_head.py']

model = dict(
    detector=dict(
        roi_head=_base_.pointrend_roi_head,
        train_cfg=_base_.pointrend_train_cfg,
        test_cfg=_base_.pointrend_test_cfg))
