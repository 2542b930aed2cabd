/*
 * Exact measurements on compressed RLE masks, many masks per call.
 *
 * Part of vis: vis/evaluation/rle_native.py compiles it (plain C99, no
 * Python or numpy headers: `cc -O2 -shared -fPIC`) and calls it through
 * ctypes.
 *
 * Format (the ``counts`` strings of COCO / YouTube-VIS compressed RLE).  A
 * mask of h x w pixels, read in column-major order, is a sequence of runs
 * alternately of 0s and of 1s, starting with 0s (that first run may be
 * empty).  Each run length is written as one or more characters, each
 * standing for the 6-bit value (c - '0'): its low 5 bits are payload (the
 * least significant group first), bit 0x20 says that another character of
 * the same number follows, and in the last character bit 0x10 is the sign
 * (the number is sign-extended from there).  From the fourth run on (index
 * 3, 4, ...) the number written is the difference to the run two places
 * before, i.e. to the previous run of the same colour.
 *
 * All masks of a call live in one buffer, their strings separated by '\n';
 * vis_rle_measure finds where each one starts (`bounds`).  Results are
 * exact integers.  A string that is not well formed -- a character outside
 * '0'..'o', a number cut off by the end of the string or longer than 12
 * characters, a run length outside [0, 2^32) -- makes a function return the
 * position of the first such mask (or pair), so that the caller can leave
 * those masks to another decoder.  Nothing is ever read outside a string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Changed whenever a signature changes (checked by rle_native.py). */
int vis_rle_abi_version(void) { return 4; }

#define RLE_MAX_GROUPS 12 /* characters in one number: 60 bits, far enough */
#define RLE_SEPARATOR '\n' /* between the strings of a buffer */

/* Reading position in one counts string, run pair after run pair. */
typedef struct {
    const unsigned char *pos, *end;
    int64_t zeros, ones; /* the last run of each colour */
    int64_t pairs;       /* pairs (run of 0s, run of 1s) read so far */
    uint64_t bad;        /* non-zero once something malformed was seen */
} rle_reader;

/* Mask `mask` of a buffer: buf[bounds[mask] .. bounds[mask + 1] - 1). */
static void reader_init(rle_reader *r, const char *buf, const int64_t *bounds,
                        int64_t mask)
{
    r->pos = (const unsigned char *)buf + bounds[mask];
    r->end = (const unsigned char *)buf + bounds[mask + 1] - 1;
    r->zeros = r->ones = r->pairs = 0;
    r->bad = 0;
}

/*
 * The next number of the string (r->pos < r->end).  On a malformed number
 * sets r->bad, moves to the end and returns 0.
 */
static inline int64_t read_number(rle_reader *r)
{
    uint64_t digit = (uint64_t)*r->pos++ - '0';

    if (digit < 32) /* the common case: one character, sign in bit 0x10 */
        return (int64_t)(digit ^ 16) - 16;
    uint64_t value = 0;
    unsigned shift = 0;
    for (;;) {
        if (digit > 63)
            goto malformed;
        value |= (digit & 0x1f) << shift;
        shift += 5;
        if (!(digit & 0x20))
            break;
        if (r->pos == r->end || shift >= 5 * RLE_MAX_GROUPS)
            goto malformed;
        digit = (uint64_t)*r->pos++ - '0';
    }
    if (digit & 0x10)
        value |= ~(uint64_t)0 << shift;
    return (int64_t)value;
malformed:
    r->bad = 1;
    r->pos = r->end;
    return 0;
}

/*
 * Reads the next run of 0s and the run of 1s after it (0 if the string
 * ends before it) into *zeros and *ones.  Returns 0 (nothing read) at the
 * end of the string.  Run lengths outside [0, 2^32) set r->bad (and end
 * the reading).
 */
static inline int read_pair(rle_reader *r, int64_t *zeros, int64_t *ones)
{
    if (r->pos == r->end)
        return 0;
    /* Runs 0, 1 and 2 are written as they are, later ones as differences. */
    int64_t number = read_number(r);
    r->zeros = r->pairs >= 2 ? r->zeros + number : number;
    *zeros = r->zeros;
    r->bad |= (uint64_t)r->zeros >> 32;
    if (r->pos == r->end) {
        *ones = 0;
    } else {
        number = read_number(r);
        r->ones = r->pairs >= 1 ? r->ones + number : number;
        *ones = r->ones;
        r->bad |= (uint64_t)r->ones >> 32;
    }
    if (r->bad) /* stop there: no sums of out-of-range values */
        r->pos = r->end;
    r->pairs++;
    return 1;
}

/*
 * Area (pixels set) and total (pixels described) of the n masks of a
 * buffer of `length` bytes that holds their strings separated by '\n'
 * (RLE_SEPARATOR; not a character of the format).  Also writes bounds[0 ..
 * n]: mask i is buf[bounds[i] .. bounds[i + 1] - 1).  Returns -1 on
 * success, else the index of the first mask that could not be read (a
 * malformed string, or a separator missing or in excess).
 */
int64_t vis_rle_measure(const char *buf, int64_t length, int64_t n,
                        int64_t *bounds, int64_t *areas, int64_t *totals)
{
    int64_t start = 0;

    for (int64_t i = 0; i < n; i++) {
        int64_t stop = length;
        if (i + 1 < n) {
            const char *sep = memchr(buf + start, RLE_SEPARATOR,
                                     (size_t)(length - start));
            if (sep == NULL)
                return i;
            stop = sep - buf;
        }
        bounds[i] = start;
        bounds[i + 1] = stop + 1;

        rle_reader r;
        int64_t zeros, ones, area = 0, total = 0;
        reader_init(&r, buf, bounds, i);
        while (read_pair(&r, &zeros, &ones)) {
            area += ones;
            total += zeros + ones;
        }
        if (r.bad)
            return i;
        areas[i] = area;
        totals[i] = total;
        start = stop + 1;
    }
    return -1;
}

/* Room for the runs of 1s of masks, grown as needed. */
typedef struct {
    int64_t *starts, *ends, capacity;
} intervals;

/* Ensures room for the intervals of `mask`; 0 if out of memory. */
static int reserve(intervals *iv, const int64_t *bounds, int64_t mask)
{
    /* a string of L characters has at most L numbers: L / 2 + 1 pairs */
    int64_t need = (bounds[mask + 1] - 1 - bounds[mask]) / 2 + 1;
    if (need <= iv->capacity)
        return 1;
    free(iv->starts);
    free(iv->ends);
    iv->capacity = need > 2 * iv->capacity ? need : 2 * iv->capacity;
    iv->starts = malloc(sizeof(int64_t) * (size_t)iv->capacity);
    iv->ends = malloc(sizeof(int64_t) * (size_t)iv->capacity);
    return iv->starts != NULL && iv->ends != NULL;
}

#define RLE_MALFORMED (-1)
#define RLE_NO_MEMORY (-2)

/*
 * The runs of 1s of one mask as [start, end) pixel intervals, in order,
 * empty runs left out.  Returns their number, RLE_MALFORMED or
 * RLE_NO_MEMORY.
 */
static int64_t decode_ones(intervals *iv, const char *buf,
                           const int64_t *bounds, int64_t mask)
{
    rle_reader r;
    int64_t zeros, ones, position = 0, count = 0;

    if (!reserve(iv, bounds, mask))
        return RLE_NO_MEMORY;
    reader_init(&r, buf, bounds, mask);
    while (read_pair(&r, &zeros, &ones)) {
        position += zeros;
        iv->starts[count] = position;
        position += ones;
        iv->ends[count] = position;
        count += ones > 0;
    }
    return r.bad ? RLE_MALFORMED : count;
}

/*
 * Pixels set both in mask `mask` of buf and in the decoded intervals of
 * another mask (a sorted list of disjoint intervals).  The mask is read run
 * after run and only until it passes the last interval.
 */
static int64_t overlap(const char *buf, const int64_t *bounds, int64_t mask,
                       const intervals *iv, int64_t count)
{
    const int64_t *starts = iv->starts, *ends = iv->ends;
    rle_reader r;
    int64_t zeros, ones, position = 0, total = 0, j = 0;

    reader_init(&r, buf, bounds, mask);
    while (j < count && read_pair(&r, &zeros, &ones)) {
        int64_t lo = position + zeros, hi = lo + ones;
        position = hi;
        while (j < count && ends[j] <= lo) /* intervals before this run */
            j++;
        for (int64_t m = j; m < count && starts[m] < hi; m++) {
            int64_t s = starts[m] > lo ? starts[m] : lo;
            int64_t e = ends[m] < hi ? ends[m] : hi;
            total += e - s; /* the last interval may go on: j stays */
        }
    }
    return total;
}

/*
 * Pixels set both in mask first[k] of buffer a and in mask second[k] of
 * buffer b (buffers and bounds as from vis_rle_measure, which checks that
 * the strings are well formed), for the pairs k = 0 .. n - 1; a and b may
 * be the same buffer.  Both masks of a pair should describe the same pixels
 * (if their totals differ, the pixels only one of them describes count as
 * 0).  The runs of 1s of a second mask are decoded once for consecutive
 * pairs that share it, so pairs should come grouped by it; each first mask
 * is read as it goes.
 *
 * Returns -1 on success, -2 if out of memory, else the index of the first
 * pair with a malformed mask that was noticed.
 */
int64_t vis_rle_intersect(const char *buf_a, const int64_t *bounds_a,
                          const int64_t *first, const char *buf_b,
                          const int64_t *bounds_b, const int64_t *second,
                          int64_t n, int64_t *out)
{
    intervals b = {NULL, NULL, 0};
    int64_t num_b = 0, decoded = -1, status = -1;

    for (int64_t k = 0; k < n; k++) {
        if (second[k] != decoded) {
            decoded = second[k];
            num_b = decode_ones(&b, buf_b, bounds_b, decoded);
            if (num_b < 0) {
                status = num_b == RLE_NO_MEMORY ? -2 : k;
                break;
            }
        }
        out[k] = overlap(buf_a, bounds_a, first[k], &b, num_b);
    }
    free(b.starts);
    free(b.ends);
    return status;
}
