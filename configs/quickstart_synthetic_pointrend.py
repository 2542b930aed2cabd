# The quickstart model with PointRend masks (vis.models.RLEPointRendRoIHead):
# a coarse 7x7 mask per RoI, refined at inference by 5 subdivision steps to
# 224x224, re-predicting the most uncertain points from the FPN features at
# each step; the refined masks are pasted to RLE region by region. Same data,
# frame size, schedule and box/track heads as quickstart_synthetic.py; the
# point head is trained jointly (loss_point) by the same tools/train.py run.
# See docs/refinement.md.
_base_ = ['./quickstart_synthetic.py']

num_classes = _base_.num_classes
channels = _base_.channels

model = dict(
    detector=dict(
        roi_head=dict(
            type='RLEPointRendRoIHead',
            # the point head reads the finest FPN map (stride 4) at its
            # points, as PointRend
            point_feat_strides=[4],
            # the base's 14x14 multi-level RoIAlign (TRoI-compatible); the
            # coarse head downsamples it to 7x7
            mask_head=dict(
                _delete_=True,
                type='RLECoarseMaskHead',
                num_fcs=2,
                in_channels=channels,
                conv_out_channels=channels,
                fc_out_channels=256,
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
