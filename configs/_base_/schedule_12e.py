# The published MaskTrack R-CNN schedule: 12 epochs, SGD lr 0.00125 for
# 8 GPUs x 1 video (auto-scaled by --auto-scale-lr), steps at 8 and 11,
# gradient clipping at 35.
_base_ = ['mmdet::_base_/default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.00125, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3.0, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True,
         milestones=[8, 11], gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=8)

# resumes mid-epoch from checkpoints written by iteration (vis.engine)
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=12,
                 val_begin=13)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# checkpoints are written atomically, carry the random generators' states,
# and training stops at the first non-finite loss (vis.engine)
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                    max_keep_ckpts=3),
    # draws the first num_videos validation/test videos into WORK_DIR/vis
    visualization=dict(_delete_=True, type='VideoVisualizationHook',
                       num_videos=0))
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='RandomStateHook'),
]
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='TrackLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')
