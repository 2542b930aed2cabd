# MaskTrack R-CNN: Mask R-CNN (ResNet-50 FPN) + a cosine embedding track head
# + an embedding-memory tracker. The detector starts from the COCO Mask R-CNN
# checkpoint; experiment configs swap the backbone and that checkpoint.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']

custom_imports = dict(imports=['vis'], allow_failed_imports=False)

num_classes = 40  # YouTube-VIS; datasets may override through the heads

detector = _base_.model
detector.pop('data_preprocessor')
# the whole detector is initialised from COCO below, so the backbone needs no
# ImageNet weights of its own
detector.backbone.init_cfg = None
detector.roi_head.bbox_head.num_classes = num_classes
detector.roi_head.mask_head.num_classes = num_classes
# same layers as mmdet's FCNMaskHead; test-time masks pasted straight to RLE
# and channels-last convolutions (vis.models.RLEFCNMaskHead)
detector.roi_head.mask_head.type = 'RLEFCNMaskHead'
# mmdet's RoI extractors at training; at inference one native, exact
# RoIAlign call over the channels-last FPN maps
# (vis.models.ChannelsLastRoIExtractor); the mask head's RoI features come
# out channels-last, as its convolutions want them
detector.roi_head.bbox_roi_extractor.type = 'ChannelsLastRoIExtractor'
detector.roi_head.mask_roi_extractor.update(
    dict(type='ChannelsLastRoIExtractor', channels_last_output=True))
detector.train_cfg.rpn.sampler.num = 64
detector.train_cfg.rpn_proposal.update(dict(nms_pre=200, max_per_img=200))
detector.train_cfg.rcnn.sampler.num = 128
detector.test_cfg.rpn.update(dict(nms_pre=200, max_per_img=200))
detector.test_cfg.rcnn.score_thr = 0.01
# The whole detector starts from mmdet's COCO Mask R-CNN: every tensor of the
# same shape loads, and the class rows of the box and mask heads are copied
# for the classes whose names are COCO's (person, dog, cat, ...; the others
# start fresh) -- vis.models.DetectorCheckpointInit, which prints a table of
# what it loaded. The training classes are filled in by tools/train.py; to
# map more names (sedan -> car, ...) train with --load-detector URL
# --class-map configs/class_maps/ytvis2019_to_coco.json.
detector.init_cfg = dict(
    type='DetectorCheckpointInit',
    source_classes='CocoDataset',  # if the checkpoint stores no names
    checkpoint='https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/'
    'mask_rcnn_r50_fpn_1x_coco/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth')
del _base_.model

model = dict(
    # mmdet's MaskTrackRCNN, frame by frame, channels-last convolutions at
    # test time (vis.models.OnlineMaskTrackRCNN)
    type='OnlineMaskTrackRCNN',
    data_preprocessor=dict(
        type='TrackDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    detector=detector,
    track_head=dict(
        type='RoITrackHead',
        roi_extractor=dict(
            type='ChannelsLastRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        embed_head=dict(
            type='CosineRoIEmbedHead',
            num_fcs=2,
            roi_feat_size=7,
            in_channels=256,
            fc_out_channels=1024,
            temperature=0.1),
        train_cfg=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=128,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    # how long an unseen track is remembered: exactly one of
    # num_frames_retain=N (processed frames; 20 when neither is set, as in
    # MaskTrack R-CNN) or retain_seconds=S (seconds of video, converted with
    # the frame rate: fps=F and frame_stride=N here, or at run time from
    # VideoPredictor(fps=...) / tools/demo_video.py); see
    # vis/models/retention.py. Neither is set here, so that a config or
    # --cfg-options can set either one.
    tracker=dict(
        type='EmbeddingMemoryTracker',
        match_weights=dict(det_score=1.0, iou=2.0, det_label=10.0)))
del detector
