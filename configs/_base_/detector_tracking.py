# Data, runtime and tracker for a plain mmdet instance-segmentation detector
# tracked without training (vis/detector_config.py wraps the detector's own
# config with this one: tools/test.py, tools/demo_video.py and VideoPredictor
# take e.g. mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py as CONFIG).
# The test data is a YouTube-VIS-layout split (tools/test.py --data-root).
_base_ = ['./datasets/ytvis2019.py', './schedule_12e.py']

custom_imports = dict(imports=['vis'], allow_failed_imports=False)

# follows detections by mask IoU, box IoU, class and the cosine similarity
# of the box head's shared-FC features (vis/models/assignment_tracker.py);
# how long an unseen track is remembered: num_frames_retain=N or
# retain_seconds=S, as for every tracker (vis/models/retention.py)
# a detection scoring >= birth_score starts a track, one >= match_score
# continues one (the detector's own score floor is raised to match_score);
# a track is confirmed once matched on num_confirm frames: the streaming
# demo shows confirmed tracks only, tools/test.py keeps a confirmed track's
# earlier frames (back-filled) and drops tracks never confirmed
tracker = dict(
    type='AssignmentTracker',
    weights=dict(mask=0.4, box=0.2, appearance=0.3, label=0.1),
    birth_score=0.5,
    match_score=0.3,
    num_confirm=3)
