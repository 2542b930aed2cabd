# PointRend masks for MaskTrack R-CNN (vis.models.RLEPointRendRoIHead over
# mmdet's PointRend heads), at the full models' sizes (256-channel FPN, 40
# YouTube-VIS 2019 classes): a coarse 7x7 mask per RoI, refined at inference
# by 5 subdivision steps to 224x224 (784 points a step); refined masks are
# pasted to RLE region by region. A config takes it with
#     _base_ = ['./masktrack_r50.py', './_base_/models/pointrend_roi_head.py']
#     model = dict(detector=dict(roi_head=_base_.pointrend_roi_head, ...))
# (see configs/masktrack_r50_pointrend.py) and sets its own channels and
# classes on the copy where they differ. See docs/refinement.md.
pointrend_roi_head = dict(
    type='RLEPointRendRoIHead',
    # the point head reads the finest FPN map (stride 4) at its points, as
    # PointRend
    point_feat_strides=[4],
    # the base's 14x14 multi-level RoIAlign (TRoI-compatible); the coarse
    # head downsamples it to 7x7
    mask_head=dict(
        _delete_=True,
        type='RLECoarseMaskHead',
        num_fcs=2,
        in_channels=256,
        conv_out_channels=256,
        fc_out_channels=1024,
        num_classes=40,
        loss_mask=dict(type='CrossEntropyLoss', use_mask=True,
                       loss_weight=1.0)),
    point_head=dict(
        type='MaskPointHead',
        num_fcs=3,
        in_channels=256,
        fc_channels=256,
        num_classes=40,
        coarse_pred_each_layer=True,
        loss_point=dict(type='CrossEntropyLoss', use_mask=True,
                        loss_weight=1.0)))
pointrend_train_cfg = dict(
    rcnn=dict(mask_size=7, num_points=14 * 14, oversample_ratio=3,
              importance_sample_ratio=0.75))
pointrend_test_cfg = dict(
    rcnn=dict(subdivision_steps=5, subdivision_num_points=28 * 28,
              scale_factor=2))
