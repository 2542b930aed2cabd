# MaskTrack R-CNN, ResNet-50 FPN, YouTube-VIS 2022: trained on the 2021 train
# set (40 classes, 2021 layout); its valid split holds the 2021 valid videos
# and the long videos added in 2022, in the same layout:
#   data/youtube_vis_2022/train/instances.json + train/JPEGImages/...
#   data/youtube_vis_2022/valid/instances.json + valid/JPEGImages/...
# tools/test.py streams every video frame by frame, so the long videos need
# no more memory than the short ones.
_base_ = ['./masktrack_r50_ytvis2021.py']
data_root = 'data/youtube_vis_2022/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'valid/instances.json')
test_evaluator = val_evaluator
