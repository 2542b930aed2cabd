# YouTube-VIS 2019 read from the official json (no conversion step):
#   data/youtube_vis_2019/train.json + train/JPEGImages/<video>/<frame>.jpg
#   data/youtube_vis_2019/valid.json + valid/JPEGImages/...
# `tools/train.py --data-root DIR` / `tools/test.py --data-root DIR` point
# these at any directory with that layout (or the 2021 one).
dataset_type = 'YouTubeVISJsonDataset'
data_root = 'data/youtube_vis_2019/'
train_ann = 'train.json'
train_img = 'train/JPEGImages/'
test_ann = 'valid.json'
test_img = 'valid/JPEGImages/'
img_scale = (640, 360)

train_pipeline = [
    dict(type='UniformRefFrameSample', num_ref_imgs=1, frame_range=100,
         filter_key_img=True),
    dict(type='TransformBroadcaster', share_random_params=True,
         transforms=[
             dict(type='LoadImageFromFile'),
             dict(type='LoadTrackAnnotations', with_mask=True),
             dict(type='Resize', scale=img_scale, keep_ratio=True),
             dict(type='RandomFlip', prob=0.5),
         ]),
    # a reference that is the key frame itself (a one-frame video, e.g. a
    # still image from coco2ytvis) gets its own random warp and colour
    # jitter, so that the track head learns from still images too; real
    # references pass untouched. Defaults: scale 0.8-1.25, shift <= 15%,
    # rotation <= 10 degrees, brightness/contrast/saturation +-0.15
    # (vis/datasets/reference_warp.py)
    dict(type='KeyFrameReferenceWarp'),
    dict(type='PackTrackInputs')
]
test_pipeline = [
    dict(type='TransformBroadcaster',
         transforms=[
             dict(type='LoadImageFromFile'),
             dict(type='Resize', scale=img_scale, keep_ratio=True),
         ]),
    dict(type='PackTrackInputs')
]

train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='TrackImgSampler'),  # every annotated frame once
    batch_sampler=dict(type='TrackAspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=train_ann,
        data_prefix=dict(img_path=train_img),
        pipeline=train_pipeline))
val_dataloader = dict(
    # one frame per sample, every video's frames in order on one process
    # (TrackImgSampler in test mode): frames are decoded, tracked, encoded
    # as RLE and dropped one at a time, so memory does not grow with the
    # video's length
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=test_ann,
        data_prefix=dict(img_path=test_img),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='YouTubeVISVideoMetric',
                     ann_file=data_root + test_ann)
test_evaluator = val_evaluator
