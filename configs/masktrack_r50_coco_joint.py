# MaskTrack R-CNN, ResNet-50 FPN, trained jointly on YouTube-VIS 2019 videos
# and COCO still images, 12 epochs.
#
# COCO is read as one-frame videos made once by the converter:
#   python tools/dataset_converters/coco2ytvis.py \
#       data/coco/annotations/instances_train2017.json data/coco/train2017 \
#       data/coco_ytvis --link symlink --skip-empty
# Its 80 categories are matched to the 40 YouTube-VIS classes by name through
# configs/class_maps/coco_to_ytvis2019.json (19 COCO classes map, e.g. car ->
# sedan, motorcycle -> motorbike); the unmapped ones are dropped, with their
# names printed when the data set loads, and images left without instances
# are filtered out. A COCO image's reference frame is the image itself,
# warped on its own by KeyFrameReferenceWarp (base train pipeline), so the
# track head learns from the images too.
#
# Sampling ratio: image : video = 1 : 2. Each epoch holds every annotated
# YouTube-VIS frame once plus half as many COCO images (drawn without
# replacement, reshuffled every epoch): source_ratio=(2, 1) below.
# `--data-root DIR` points the video source (the first) elsewhere.
_base_ = ['./masktrack_r50.py']

ytvis_classes = (
    'person', 'giant_panda', 'lizard', 'parrot', 'skateboard', 'sedan',
    'ape', 'dog', 'snake', 'monkey', 'hand', 'rabbit', 'duck', 'cat', 'cow',
    'fish', 'train', 'horse', 'turtle', 'bear', 'motorbike', 'giraffe',
    'leopard', 'fox', 'deer', 'owl', 'surfboard', 'airplane', 'truck',
    'zebra', 'tiger', 'elephant', 'snowboard', 'boat', 'shark', 'mouse',
    'frog', 'eagle', 'earless_seal', 'tennis_racket')
video_root = 'data/youtube_vis_2019/'
image_root = 'data/coco_ytvis/'
source_ratio = (2, 1)  # (video, image)

video_set = dict(
    type='YouTubeVISJsonDataset',
    data_root=video_root,
    ann_file='train.json',
    data_prefix=dict(img_path='train/JPEGImages/'),
    metainfo=dict(classes=ytvis_classes),
    pipeline=_base_.train_pipeline)
image_set = dict(
    type='ClassMappedYouTubeVISDataset',
    data_root=image_root,
    ann_file='train.json',
    data_prefix=dict(img_path='train/JPEGImages/'),
    class_map='{{ fileDirname }}/class_maps/coco_to_ytvis2019.json',
    metainfo=dict(classes=ytvis_classes),
    pipeline=_base_.train_pipeline)
train_dataloader = dict(
    sampler=dict(_delete_=True, type='JointTrackImgSampler',
                 source_ratio=source_ratio),
    dataset=dict(_delete_=True, type='JointVideoDataset',
                 datasets=[video_set, image_set]))
