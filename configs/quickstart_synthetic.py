# Quickstart: a small MaskTrack R-CNN trained from scratch on the generated
# synthetic YouTube-VIS videos (make_synthetic_ytvis.py), sized to train on a
# 2-core CPU in minutes. Same model code as the full configs; only the sizes,
# the optimiser and the data differ.
_base_ = [
    './_base_/models/masktrack_rcnn_r50_fpn.py',
    './_base_/datasets/ytvis2019.py', './_base_/schedule_12e.py'
]

data_root = 'data/synthetic_ytvis/'
img_scale = (320, 192)
num_classes = 5
channels = 64

model = dict(
    detector=dict(
        init_cfg=None,  # from scratch: no pretrained weights offline
        backbone=dict(
            depth=18, base_channels=32, frozen_stages=-1, norm_eval=False,
            init_cfg=None),
        neck=dict(in_channels=[32, 64, 128, 256], out_channels=channels),
        rpn_head=dict(
            in_channels=channels, feat_channels=channels,
            anchor_generator=dict(scales=[4], ratios=[0.5, 1.0, 2.0])),
        roi_head=dict(
            bbox_roi_extractor=dict(out_channels=channels),
            bbox_head=dict(in_channels=channels, fc_out_channels=256,
                           num_classes=num_classes),
            mask_roi_extractor=dict(out_channels=channels),
            mask_head=dict(num_convs=2, in_channels=channels,
                           conv_out_channels=channels,
                           num_classes=num_classes)),
        train_cfg=dict(rcnn=dict(sampler=dict(num=64))),
        # the base's 200 RPN proposals at test time (with the RPN's targets
        # fixed, 200 scored better than 1000 at half the cost per frame,
        # docs/learning.md)
        test_cfg=dict(rcnn=dict(score_thr=0.05, max_per_img=20))),
    track_head=dict(
        roi_extractor=dict(out_channels=channels),
        # the match loss at a quarter weight: at full weight it was most of
        # the total loss and of the shared backbone's gradient, and the
        # detector learned less (docs/learning.md)
        embed_head=dict(in_channels=channels, fc_out_channels=256,
                        loss_match=dict(type='mmdet.CrossEntropyLoss',
                                        use_sigmoid=False,
                                        loss_weight=0.25)),
        train_cfg=dict(sampler=dict(num=64))))

# the base pipelines, at this config's frame size; tracking references come
# from +-6 frames (the generated videos are 12 frames long)
train_pipeline = _base_.train_pipeline
train_pipeline[0].frame_range = 6  # UniformRefFrameSample
train_pipeline[1].transforms[2].scale = img_scale  # Resize
test_pipeline = _base_.test_pipeline
test_pipeline[0].transforms[1].scale = img_scale  # Resize
train_dataloader = dict(
    batch_size=2,
    num_workers=1,
    dataset=dict(data_root=data_root, ann_file='train.json',
                 data_prefix=dict(img_path='train/JPEGImages/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, ann_file='valid.json',
                 data_prefix=dict(img_path='valid/JPEGImages/'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'valid.json')
test_evaluator = val_evaluator

# An iteration-based schedule: 1400 iterations of 2 frames whatever the
# data set's size (a 40-video set and a 60-video set both get a full
# schedule; by epochs the smaller one got half the iterations), a 100
# iteration warm-up, then a cosine decay to 2% of the learning rate. 1400
# keep training under 15 CPU minutes of this project's 2-core machine
# (1600 took 16.9; docs/learning.md).
max_iters = 1400
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters,
         eta_min_ratio=0.02)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters=max_iters, val_interval=max_iters)
log_processor = dict(by_epoch=False)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(by_epoch=False, interval=350,
                                     max_keep_ckpts=1),
                     visualization=dict(num_videos=2))
randomness = dict(seed=0)
env_cfg = dict(cudnn_benchmark=False)
