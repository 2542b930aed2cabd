# The refinement for users who need outlines: the regional refiner
# (masktrack_x101_troi_regionrefine.py).
# On the quickstart's 640x360 comparison it raised Boundary AP 62.8 ->
# 66.3 at 1.03-1.15x the plain model's inference time, within the 1.3x
# goal; PointRend (*_pointrend.py) raised it to 67.7 at 1.23-2.8x
# (docs/refinement.md).
_base_ = ['./masktrack_x101_troi_regionrefine.py']
