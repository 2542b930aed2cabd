# The quickstart model + Temporal RoI Align on its box and mask branches.
_base_ = ['./quickstart_synthetic.py']

temporal = dict(topk=2, num_heads=4, num_attention_blocks=1)
model = dict(
    type='TemporalMaskTrackRCNN',
    memory_size=2,
    detector=dict(
        roi_head=dict(
            bbox_roi_extractor=dict(type='TemporalRoIExtractor',
                                    temporal=temporal),
            mask_roi_extractor=dict(type='TemporalRoIExtractor',
                                    temporal=temporal))))

train_pipeline = [
    dict(type='UniformRefFrameSample', num_ref_imgs=2, frame_range=6,
         filter_key_img=True),
    dict(type='TransformBroadcaster', share_random_params=True,
         transforms=[
             dict(type='LoadImageFromFile'),
             dict(type='LoadTrackAnnotations', with_mask=True),
             dict(type='Resize', scale=(320, 192), keep_ratio=True),
             dict(type='RandomFlip', prob=0.5),
         ]),
    dict(type='PackTrackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
