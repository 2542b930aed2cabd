# MaskTrack R-CNN + Temporal RoI Align, ResNeXt-101 64x4d FPN, YouTube-VIS
# 2019, with PointRend masks (configs/_base_/models/pointrend_roi_head.py, as
# masktrack_r50_pointrend.py). The TRoI mask RoI features feed the coarse
# mask head; the point head samples the key frame's FPN features at its
# points. See docs/refinement.md.
_base_ = ['./masktrack_x101_troi.py',
          './_base_/models/pointrend_roi_head.py']

model = dict(
    detector=dict(
        roi_head=_base_.pointrend_roi_head,
        train_cfg=_base_.pointrend_train_cfg,
        test_cfg=_base_.pointrend_test_cfg))
