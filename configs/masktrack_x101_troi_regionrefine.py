# MaskTrack R-CNN + Temporal RoI Align, ResNeXt-101 64x4d FPN, YouTube-VIS
# 2019, with regionally refined masks (as masktrack_r50_regionrefine.py). The
# TRoI mask RoI features feed the base's mask head, whose coarse logits the
# refiner refines on patches of the key frame. See docs/refinement.md.
_base_ = ['./masktrack_x101_troi.py']

model = dict(
    detector=dict(
        roi_head=dict(
            type='RLERegionRefineRoIHead',
            # each refined grid is pasted and encoded on its own (no
            # full-frame buffer)
            mask_head=dict(paste_by_region=True),
            refine_head=dict(
                type='RegionRefineHead',
                patch_size=80,
                margin=8,
                # 2 x 2 reads averaged per cell: boxes up to 640 pixels,
                # cells of up to 8 pixels
                samples=2,
                channels=(8, 16, 32),
                band_width=4,
                num_train_patches=32,
                loss_weight=1.0))))
