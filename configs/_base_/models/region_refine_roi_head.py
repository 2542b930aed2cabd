# Regionally refined masks for MaskTrack R-CNN
# (vis.models.RLERegionRefineRoIHead + RegionRefineHead), at the full models'
# sizes: the base's 28x28 masks refined per kept detection by a small U-Net
# on a patch of the frame (the network input) and of the coarse logits over
# its box, 80x80 cells plus 8 of context on each side, blended back in a band
# of 4 cells around the coarse boundary; pasted to RLE region by region. The
# refiner trains jointly (loss_refine). A config takes it with
#     _base_ = ['./masktrack_r50.py',
#               './_base_/models/region_refine_roi_head.py']
#     model = dict(detector=dict(roi_head=_base_.region_refine_roi_head))
# (merged into the base's RoI head: its box and mask heads stay) and sets its
# own patch sizes on the copy where they differ. See docs/refinement.md.
region_refine_roi_head = dict(
    type='RLERegionRefineRoIHead',
    # each refined grid is pasted and encoded on its own (no full-frame
    # buffer)
    mask_head=dict(paste_by_region=True),
    refine_head=dict(
        type='RegionRefineHead',
        patch_size=80,
        margin=8,
        # 2 x 2 reads averaged per cell: boxes up to 640 pixels, cells of up
        # to 8 pixels
        samples=2,
        channels=(8, 16, 32),
        band_width=4,
        num_train_patches=32,
        loss_weight=1.0))
