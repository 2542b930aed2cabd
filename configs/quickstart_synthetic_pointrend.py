# The quickstart model with PointRend masks
# (configs/_base_/models/pointrend_roi_head.py at the quickstart's 64
# channels and 5 classes): a coarse 7x7 mask per RoI, refined at inference by
# 5 subdivision steps to 224x224, re-predicting the most uncertain points
# from the FPN features at each step; pasted to RLE region by region. Same
# data, frame size, schedule and box/track heads as quickstart_synthetic.py;
# the point head is trained jointly (loss_point) by the same tools/train.py
# run. See docs/refinement.md.
_base_ = ['./quickstart_synthetic.py',
          './_base_/models/pointrend_roi_head.py']

num_classes = 5
channels = 64
pointrend_roi_head = _base_.pointrend_roi_head
pointrend_roi_head.mask_head.update(
    in_channels=channels, conv_out_channels=channels, fc_out_channels=256,
    num_classes=num_classes)
pointrend_roi_head.point_head.update(
    in_channels=channels, fc_channels=channels, num_classes=num_classes)

model = dict(
    detector=dict(
        roi_head=pointrend_roi_head,
        train_cfg=_base_.pointrend_train_cfg,
        test_cfg=_base_.pointrend_test_cfg))
