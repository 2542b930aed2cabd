# A plain mmdet Mask R-CNN config (no video parts): the detector of
# quickstart_synthetic.py, written as a user's own mmdet config would be, for
# the synthetic videos' five shapes. It is what tools/export_detector.py
# saves a trained quickstart model's detector for, and what
# tools/test.py / tools/demo_video.py track without training:
#   python tools/export_detector.py work_dirs/quickstart_synthetic/iter_1400.pth \
#       work_dirs/quickstart_synthetic/detector.pth
#   python tools/test.py configs/mmdet/quickstart_mask_rcnn.py \
#       work_dirs/quickstart_synthetic/detector.pth \
#       --data-root data/synthetic_ytvis --metrics ap hota
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py'
]

classes = ('disc', 'box', 'triangle', 'ring', 'cross')
img_scale = (320, 192)
channels = 64

model = dict(
    backbone=dict(depth=18, base_channels=32, frozen_stages=-1,
                  norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=channels),
    rpn_head=dict(
        in_channels=channels, feat_channels=channels,
        anchor_generator=dict(scales=[4], ratios=[0.5, 1.0, 2.0])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256,
                       num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(num_convs=2, in_channels=channels,
                       conv_out_channels=channels,
                       num_classes=len(classes))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=200),
                  rcnn=dict(score_thr=0.05, max_per_img=20)))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=1,
    dataset=dict(type='CocoDataset', metainfo=dict(classes=classes),
                 data_root='data/synthetic_coco/',
                 ann_file='annotations/valid.json',
                 data_prefix=dict(img='images/'), test_mode=True,
                 pipeline=test_pipeline))
