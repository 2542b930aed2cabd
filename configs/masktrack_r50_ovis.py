# MaskTrack R-CNN, ResNet-50 FPN, OVIS (Occluded Video Instance
# Segmentation: 25 classes, up to ~300 frames a video), 12 epochs.
# OVIS layout, as published:
#   data/ovis/annotations_train.json + data/ovis/train/<video>/<frame>.jpg
#   data/ovis/annotations_valid.json + data/ovis/valid/<video>/<frame>.jpg
# (the valid split has no public annotations: tools/test.py then writes the
# server zip; tools/split_ytvis.py makes a local annotated split).
_base_ = ['./masktrack_r50.py']

data_root = 'data/ovis/'
num_classes = 25
model = dict(
    detector=dict(
        roi_head=dict(
            bbox_head=dict(num_classes=num_classes),
            mask_head=dict(num_classes=num_classes))))
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='annotations_train.json',
                 data_prefix=dict(img_path='train/')))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='annotations_valid.json',
                 data_prefix=dict(img_path='valid/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations_valid.json')
test_evaluator = val_evaluator
