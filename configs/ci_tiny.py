# A tiny config for tests and CI: the quickstart model at a quarter of its
# width on 96x64 frames, one epoch. Runs in seconds; not for real training.
_base_ = ['./quickstart_synthetic.py']

img_scale = (96, 64)
channels = 32

model = dict(
    detector=dict(
        backbone=dict(base_channels=16),
        neck=dict(in_channels=[16, 32, 64, 128], out_channels=channels),
        rpn_head=dict(in_channels=channels, feat_channels=channels),
        roi_head=dict(
            bbox_roi_extractor=dict(out_channels=channels),
            bbox_head=dict(in_channels=channels, fc_out_channels=64),
            mask_roi_extractor=dict(out_channels=channels),
            mask_head=dict(in_channels=channels, conv_out_channels=channels))),
    track_head=dict(
        roi_extractor=dict(out_channels=channels),
        embed_head=dict(in_channels=channels, fc_out_channels=64)))

train_pipeline = _base_.train_pipeline
train_pipeline[0].frame_range = 4  # UniformRefFrameSample
train_pipeline[1].transforms[2].scale = img_scale  # Resize
test_pipeline = _base_.test_pipeline
test_pipeline[0].transforms[1].scale = img_scale  # Resize
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline,
                                     filter_cfg=dict(min_size=0)))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# one epoch (the quickstart counts iterations; the tests that resume,
# retrain and select checkpoints work by epochs)
max_epochs = 1
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5)
]
train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop',
                 max_epochs=max_epochs, val_interval=max_epochs,
                 val_begin=max_epochs)
log_processor = dict(by_epoch=True)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(by_epoch=True, interval=1,
                                     max_keep_ckpts=2))
