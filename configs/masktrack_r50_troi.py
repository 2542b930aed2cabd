# MaskTrack R-CNN + Temporal RoI Align (mask branch), ResNet-50 FPN,
# YouTube-VIS 2019. Training: a key frame and 2 reference frames within +-9
# frames; the first is the tracking reference, both are support frames.
# Inference: the FPN features of the last 2 frames are the support frames.
_base_ = ['./masktrack_r50.py']

temporal = dict(topk=2, num_heads=4, num_attention_blocks=1)
model = dict(
    type='TemporalMaskTrackRCNN',
    memory_size=2,
    detector=dict(
        roi_head=dict(
            # the 14x14 mask RoIs are searched at 7x7 cells (4x cheaper); a
            # zero-initialised gate starts training from plain RoIAlign
            mask_roi_extractor=dict(type='TemporalRoIExtractor',
                                    temporal=temporal, temporal_size=7,
                                    gate_init=0.0))))

# key frame + 2 reference frames: the first is the tracking reference,
# both are support frames
train_pipeline = _base_.train_pipeline
train_pipeline[0].update(num_ref_imgs=2, frame_range=9)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
