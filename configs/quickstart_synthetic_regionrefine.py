# The quickstart model with regionally refined masks
# (configs/_base_/models/region_refine_roi_head.py): the base's 28x28 masks,
# then, per kept detection, a small U-Net on a patch of the frame (the
# network input) and of the coarse logits over its box, here 48x48 cells
# plus 4 of context on each side, blended back in a band of 3 cells around
# the coarse boundary; pasted to RLE region by region. Same data, frame
# size, schedule, box/mask/track heads as quickstart_synthetic.py; the
# refiner is trained jointly (loss_refine) by the same tools/train.py run.
# See docs/refinement.md.
_base_ = ['./quickstart_synthetic.py',
          './_base_/models/region_refine_roi_head.py']

region_refine_roi_head = _base_.region_refine_roi_head
# one bilinear read per cell: the quickstart's boxes are mostly under 60
# pixels of its 320x192 input, cells of at most ~1.3 pixels
region_refine_roi_head.refine_head.update(
    patch_size=48, margin=4, samples=1, band_width=3)

model = dict(detector=dict(roi_head=region_refine_roi_head))
