# MaskTrack R-CNN + Temporal RoI Align, ResNeXt-101 64x4d FPN, YouTube-VIS
# 2019, with PointRend masks (as masktrack_r50_pointrend.py). The TRoI mask
# RoI features feed the coarse mask head; the point head samples the key
# frame's FPN features at its points. See docs/refinement.md.
_base_ = ['./masktrack_x101_troi.py']

num_classes = _base_.num_classes
channels = 256

model = dict(
    detector=dict(
        roi_head=dict(
            type='RLEPointRendRoIHead',
            # the point head reads the finest FPN map (stride 4) at its
            # points, as PointRend
            point_feat_strides=[4],
            mask_head=dict(
                _delete_=True,
                type='RLECoarseMaskHead',
                num_fcs=2,
                in_channels=channels,
                conv_out_channels=channels,
                fc_out_channels=1024,
                num_classes=num_classes,
                loss_mask=dict(type='CrossEntropyLoss', use_mask=True,
                               loss_weight=1.0)),
            point_head=dict(
                type='MaskPointHead',
                num_fcs=3,
                in_channels=channels,
                fc_channels=channels,
                num_classes=num_classes,
                coarse_pred_each_layer=True,
                loss_point=dict(type='CrossEntropyLoss', use_mask=True,
                                loss_weight=1.0))),
        train_cfg=dict(
            rcnn=dict(mask_size=7, num_points=14 * 14, oversample_ratio=3,
                      importance_sample_ratio=0.75)),
        test_cfg=dict(
            rcnn=dict(subdivision_steps=5, subdivision_num_points=28 * 28,
                      scale_factor=2))))
