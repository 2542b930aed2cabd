# A tiny plain mmdet Mask R-CNN config for tests and CI: the detector of
# ci_tiny.py (a quarter of the quickstart's width, 96x64 frames), as a plain
# mmdet config. Runs in seconds; not for real use.
_base_ = ['./quickstart_mask_rcnn.py']

img_scale = (96, 64)
channels = 32

model = dict(
    backbone=dict(base_channels=16),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=64),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(in_channels=channels, conv_out_channels=channels)))

test_pipeline = _base_.test_pipeline
test_pipeline[1].scale = img_scale  # Resize
test_dataloader = dict(num_workers=0, dataset=dict(pipeline=test_pipeline))
