/*
 * Average RoIAlign over channels-last (N, H, W, C) float32 feature maps.
 *
 * Loaded with ctypes by vis/ops/roi_align_native.py; plain C99, no Python or
 * torch headers.  One call pools the RoIs of every FPN level: each RoI names
 * its level, so the per-level gather and scatter of a Python loop are gone.
 *
 * The arithmetic is mmcv's CPU RoIAlign forward (average mode) step for step,
 * in float: the same sample positions, the same bilinear weights, the same
 * order of the four products and of the sums over a bin's samples, then one
 * division by the sample count.  Only the loop order differs (channels
 * innermost, contiguous in this layout, so the loop vectorises), which does
 * not change any value: each output channel still sees the same operations
 * in the same order.  Build with -ffp-contract=off so that no multiply-add
 * is fused (mmcv's x86-64 build fuses none either).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VIS_ROI_ALIGN_ABI_VERSION 1

int vis_roi_align_abi_version(void) { return VIS_ROI_ALIGN_ABI_VERSION; }

/* ceilf(v) for a finite v >= 0, as an int (no libm needed) */
static int ceil_nonnegative(float v) {
    int whole = (int)v;
    return (float)whole < v ? whole + 1 : whole;
}

/* Where and how much one sample point reads: the four neighbours' offsets
 * (in pixels of a level's (H, W) grid) and their bilinear weights. */
typedef struct {
    int64_t pos1, pos2, pos3, pos4;
    float w1, w2, w3, w4;
} Sample;

static Sample sample_at(float y, float x, int64_t height, int64_t width) {
    Sample s;
    if (y < -1.0 || y > (float)height || x < -1.0 || x > (float)width) {
        /* outside the map: contributes 0 * input[0], as mmcv */
        s.pos1 = s.pos2 = s.pos3 = s.pos4 = 0;
        s.w1 = s.w2 = s.w3 = s.w4 = 0.0f;
        return s;
    }
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int64_t y_low = (int64_t)(int)y, x_low = (int64_t)(int)x;
    int64_t y_high, x_high;
    if (y_low >= height - 1) {
        y_high = y_low = height - 1;
        y = (float)y_low;
    } else {
        y_high = y_low + 1;
    }
    if (x_low >= width - 1) {
        x_high = x_low = width - 1;
        x = (float)x_low;
    } else {
        x_high = x_low + 1;
    }
    float ly = y - (float)y_low, lx = x - (float)x_low;
    float hy = (float)(1. - ly), hx = (float)(1. - lx);
    s.w1 = hy * hx;
    s.w2 = hy * lx;
    s.w3 = ly * hx;
    s.w4 = ly * lx;
    s.pos1 = y_low * width + x_low;
    s.pos2 = y_low * width + x_high;
    s.pos3 = y_high * width + x_low;
    s.pos4 = y_high * width + x_high;
    return s;
}

/* acc[c] += w1 p1[c] + w2 p2[c] + w3 p3[c] + w4 p4[c] for c < channels, the
 * hot loop: cloned for AVX-512 and AVX2 (chosen at load time by the CPU). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void accumulate(float *restrict acc, const float *restrict p1,
                       const float *restrict p2, const float *restrict p3,
                       const float *restrict p4, float w1, float w2, float w3,
                       float w4, int64_t channels) {
    for (int64_t c = 0; c < channels; ++c)
        acc[c] += w1 * p1[c] + w2 * p2[c] + w3 * p3[c] + w4 * p4[c];
}

/*
 * levels[l]      (N, H_l, W_l, C) float32, contiguous (channels-last)
 * heights/widths (L,) each level's H_l, W_l; scales (L,) its spatial scale
 * rois           (K, 5) float32 (batch_idx, x1, y1, x2, y2), image pixels
 * roi_levels     (K,) int64 level of each RoI
 * out            (K, PH, PW, C) if out_channels_last else (K, C, PH, PW)
 *
 * Returns -1 when done, or the index of the first RoI that cannot be pooled
 * (negative size with aligned, a NaN or infinite size, batch index or level
 * out of range); -2 when out of memory.  Nothing is written for that RoI or
 * later ones.
 */
int64_t vis_roi_align_nhwc(const float *const *levels, const int64_t *heights,
                           const int64_t *widths, const float *scales,
                           int64_t num_levels, int64_t batch, int64_t channels,
                           const float *rois, const int64_t *roi_levels,
                           int64_t num_rois, int64_t pooled_h,
                           int64_t pooled_w, int64_t sampling_ratio,
                           int aligned, int out_channels_last, float *out) {
    float *acc = (float *)malloc((size_t)(channels > 0 ? channels : 1) *
                                 sizeof(float));
    if (acc == NULL) return -2;
    const int64_t bins = pooled_h * pooled_w;
    for (int64_t k = 0; k < num_rois; ++k) {
        const float *roi = rois + 5 * k;
        const int64_t level = roi_levels[k];
        const int64_t b = (int64_t)(int)roi[0];
        if (level < 0 || level >= num_levels || b < 0 || b >= batch) {
            free(acc);
            return k;
        }
        const int64_t height = heights[level], width = widths[level];
        const float scale = scales[level];
        const float offset = aligned ? 0.5f : 0.0f;
        const float start_w = roi[1] * scale - offset;
        const float start_h = roi[2] * scale - offset;
        const float end_w = roi[3] * scale - offset;
        const float end_h = roi[4] * scale - offset;
        float roi_w = end_w - start_w, roi_h = end_h - start_h;
        /* negative (aligned), NaN or infinite sizes cannot be pooled */
        if (!(roi_w >= (aligned ? 0.0f : -3.0e38f) && roi_w <= 3.0e38f &&
              roi_h >= (aligned ? 0.0f : -3.0e38f) && roi_h <= 3.0e38f)) {
            free(acc);
            return k;
        }
        if (!aligned) {
            if (roi_w < 1.0f) roi_w = 1.0f;
            if (roi_h < 1.0f) roi_h = 1.0f;
        }
        const float bin_h = roi_h / (float)pooled_h;
        const float bin_w = roi_w / (float)pooled_w;
        /* mmcv: ceilf(roi_height / pooled_height), i.e. of the bin size */
        const int grid_h =
            sampling_ratio > 0 ? (int)sampling_ratio : ceil_nonnegative(bin_h);
        const int grid_w =
            sampling_ratio > 0 ? (int)sampling_ratio : ceil_nonnegative(bin_w);
        const int grid_count = grid_h * grid_w;
        const float count = (float)(grid_count > 1 ? grid_count : 1);
        const float *map = levels[level] + b * height * width * channels;
        float *roi_out = out + k * bins * channels;

        for (int64_t ph = 0; ph < pooled_h; ++ph) {
            for (int64_t pw = 0; pw < pooled_w; ++pw) {
                memset(acc, 0, (size_t)channels * sizeof(float));
                for (int iy = 0; iy < grid_h; ++iy) {
                    const float y = start_h + (float)ph * bin_h +
                                    (float)(iy + .5f) * bin_h / (float)grid_h;
                    for (int ix = 0; ix < grid_w; ++ix) {
                        const float x = start_w + (float)pw * bin_w +
                                        (float)(ix + .5f) * bin_w /
                                            (float)grid_w;
                        const Sample s = sample_at(y, x, height, width);
                        accumulate(acc, map + s.pos1 * channels,
                                   map + s.pos2 * channels,
                                   map + s.pos3 * channels,
                                   map + s.pos4 * channels, s.w1, s.w2, s.w3,
                                   s.w4, channels);
                    }
                }
                const int64_t bin = ph * pooled_w + pw;
                if (out_channels_last) {
                    float *dst = roi_out + bin * channels;
                    for (int64_t c = 0; c < channels; ++c)
                        dst[c] = acc[c] / count;
                } else {
                    float *dst = roi_out + bin;
                    for (int64_t c = 0; c < channels; ++c)
                        dst[c * bins] = acc[c] / count;
                }
            }
        }
    }
    free(acc);
    return -1;
}
