# MaskTrack R-CNN + Temporal RoI Align, ResNeXt-101 64x4d FPN, YouTube-VIS
# 2019, with regionally refined masks (as masktrack_r50_regionrefine.py). The
# TRoI mask RoI features feed the base's mask head, whose coarse logits the
# refiner refines on patches of the key frame. See docs/refinement.md.
_base_ = ['./masktrack_x101_troi.py',
          './_base_/models/region_refine_roi_head.py']

model = dict(detector=dict(roi_head=_base_.region_refine_roi_head))
