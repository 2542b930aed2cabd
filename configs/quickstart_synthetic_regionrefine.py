# The quickstart model with regionally refined masks
# (vis.models.RLERegionRefineRoIHead + RegionRefineHead): the base's 28x28
# masks, then, per kept detection, a small U-Net on a patch of the frame (the
# network input, at image resolution) and of the coarse logits over its box,
# 48x48 cells plus 4 of context on each side, blended back in a band of 3
# cells around the coarse boundary; pasted to RLE region by region. Same data,
# frame size, schedule, box/mask/track heads as quickstart_synthetic.py; the
# refiner is trained jointly (loss_refine) by the same tools/train.py run.
# See docs/refinement.md.
_base_ = ['./quickstart_synthetic.py']

model = dict(
    detector=dict(
        roi_head=dict(
            type='RLERegionRefineRoIHead',
            # each refined grid is pasted and encoded on its own (no
            # full-frame buffer)
            mask_head=dict(paste_by_region=True),
            refine_head=dict(
                type='RegionRefineHead',
                patch_size=48,
                margin=4,
                # one bilinear read per cell: the quickstart's boxes are
                # mostly under 60 pixels, cells of at most ~1.3 pixels
                samples=1,
                channels=(8, 16, 32),
                band_width=3,
                num_train_patches=32,
                loss_weight=1.0))))
