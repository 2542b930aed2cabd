# MaskTrack R-CNN, ResNet-50 FPN, YouTube-VIS 2019, 12 epochs, with
# regionally refined masks (configs/_base_/models/region_refine_roi_head.py:
# 80x80-cell patches of the 640x360 network input). The detector starts from
# the COCO Mask R-CNN checkpoint as in masktrack_r50.py (its mask head
# included); the refiner starts fresh and trains jointly (loss_refine). See
# docs/refinement.md.
_base_ = ['./masktrack_r50.py', './_base_/models/region_refine_roi_head.py']

model = dict(detector=dict(roi_head=_base_.region_refine_roi_head))
