# MaskTrack R-CNN, ResNet-50 FPN, YouTube-VIS 2019, 12 epochs, with PointRend
# masks (vis.models.RLEPointRendRoIHead, mmdet's PointRend settings): a coarse
# 7x7 mask per RoI refined at inference by 5 subdivision steps to 224x224
# (784 points a step); refined masks are pasted to RLE region by region. The
# backbone, FPN, RPN and box head start from the COCO Mask R-CNN checkpoint as
# in masktrack_r50.py; the coarse and point heads start fresh and train
# jointly (loss_point). See docs/refinement.md.
_base_ = ['./masktrack_r50.py']

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
