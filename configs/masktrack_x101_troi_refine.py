# The refinement for users who need outlines: the regional refiner
# (masktrack_x101_troi_regionrefine.py),
# the variant within the 1.3x inference-cost goal (1.07-1.15x the plain
# model per frame; PointRend 1.5-2.8x, see docs/refinement.md). Its
# accuracy against PointRend and the plain model is not measured yet; this
# name follows the variant that wins.
_base_ = ['./masktrack_x101_troi_regionrefine.py']
