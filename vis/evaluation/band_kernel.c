/*
 * Boundary bands of compressed RLE masks, many masks per call, on runs
 * (no pixel is decoded).
 *
 * Part of vis: vis/evaluation/band_native.py compiles it (plain C99, no
 * Python or numpy headers: `cc -O2 -shared -fPIC`) and calls it through
 * ctypes; vis/evaluation/ytvis_eval/boundary.py defines the band and has
 * the numpy version of the same computation.
 *
 * Format: COCO compressed RLE ``counts`` (see rle_kernel.c): an h x w mask
 * read column by column is a sequence of runs, 0s first; each run length
 * is 6-bit characters c - '0' (5 payload bits, least significant first,
 * 0x20 "more", 0x10 of the last one the sign), and from the fourth run on
 * the number is the difference to the run two before.
 *
 * Band of a mask M with width d: M minus its erosion by a (2d+1) x (2d+1)
 * square, pixels outside the image being 0.  Per column x, M_x is a sorted
 * list of [y0, y1) spans.  The erosion is separable:
 *
 *   V_x = every span of M_x shrunk by d at both ends (vertical erosion),
 *   E_x = V_{x-d} & ... & V_{x+d} (horizontal erosion; empty near the
 *         image's left and right edges and outside M's columns),
 *
 * the window intersections with van Herk / Gil-Werman blocks of 2d+1
 * columns (a window is a suffix of one block & a prefix of the next), so
 * three span-list intersections per column whatever d.  Band B_x = M_x
 * minus E_x (E_x lies within M_x), written out as compressed RLE exactly as
 * pycocotools' encoder would write that mask.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Changed whenever a signature changes (checked by band_native.py). */
int vis_band_abi_version(void) { return 1; }

#define BAND_OK (-1)
#define BAND_NO_MEMORY (-2)
#define BAND_FULL (-3)
#define BAND_MAX_GROUPS 12 /* characters in one number */

typedef struct {
    int64_t y0, y1;
} span;

/* A growable array of spans. */
typedef struct {
    span *items;
    int64_t len, cap;
} spans;

static int spans_reserve(spans *s, int64_t extra)
{
    if (s->len + extra <= s->cap)
        return 1;
    int64_t cap = s->cap ? 2 * s->cap : 1024;
    while (cap < s->len + extra)
        cap *= 2;
    span *items = realloc(s->items, sizeof(span) * (size_t)cap);
    if (items == NULL)
        return 0;
    s->items = items;
    s->cap = cap;
    return 1;
}

/* A list of spans inside a `spans` array: items[off .. off + len). */
typedef struct {
    int64_t off, len;
} slice;

/*
 * Appends a & b (both sorted, disjoint) to `out`; returns the slice, or
 * len -1 if out of memory.  `a` and `b` may live in `out` itself.
 */
static slice intersect(spans *out, const spans *sa, slice a, const spans *sb,
                       slice b)
{
    slice r = {out->len, 0};
    if (a.len == 0 || b.len == 0)
        return r;
    if (!spans_reserve(out, a.len + b.len)) {
        r.len = -1;
        return r;
    }
    const span *pa = sa->items + a.off, *pb = sb->items + b.off;
    int64_t i = 0, j = 0;
    while (i < a.len && j < b.len) {
        int64_t lo = pa[i].y0 > pb[j].y0 ? pa[i].y0 : pb[j].y0;
        int64_t hi = pa[i].y1 < pb[j].y1 ? pa[i].y1 : pb[j].y1;
        if (lo < hi) {
            out->items[out->len].y0 = lo;
            out->items[out->len].y1 = hi;
            out->len++;
        }
        if (pa[i].y1 < pb[j].y1)
            i++;
        else
            j++;
    }
    r.len = out->len - r.off;
    return r;
}

/* Appends a copy of a to `out`; len -1 if out of memory. */
static slice copy(spans *out, const spans *sa, slice a)
{
    slice r = {out->len, a.len};
    if (a.len == 0)
        return r;
    if (!spans_reserve(out, a.len)) {
        r.len = -1;
        return r;
    }
    memcpy(out->items + out->len, sa->items + a.off,
           sizeof(span) * (size_t)a.len);
    out->len += a.len;
    return r;
}

/* Reading one counts string [pos, end). */
typedef struct {
    const unsigned char *pos, *end;
    int64_t count; /* numbers read */
    int64_t last[2]; /* the last run of each parity */
} reader;

/* The next run length into *run: 1, 0 at the end, -1 if malformed. */
static int next_run(reader *r, int64_t *run)
{
    if (r->pos >= r->end)
        return 0;
    uint64_t digit = (uint64_t)*r->pos++ - '0';
    int64_t number;
    if (digit < 32) { /* the common case: one character, sign in 0x10 */
        number = (int64_t)((digit ^ 16) - 16);
    } else {
        uint64_t value = 0;
        unsigned shift = 0;
        for (;;) {
            if (digit > 63)
                return -1;
            value |= (digit & 0x1f) << shift;
            shift += 5;
            if (!(digit & 0x20))
                break;
            if (r->pos >= r->end || shift >= 5 * BAND_MAX_GROUPS)
                return -1;
            digit = (uint64_t)*r->pos++ - '0';
        }
        if (digit & 0x10)
            value |= ~(uint64_t)0 << shift;
        number = (int64_t)value;
    }
    if (r->count > 2)
        number += r->last[r->count & 1];
    if (number < 0 || number >= ((int64_t)1 << 32))
        return -1;
    r->last[r->count & 1] = number;
    r->count++;
    *run = number;
    return 1;
}

/* Writing one counts string into out[*used .. cap). */
typedef struct {
    char *out;
    int64_t used, cap;
    int64_t count; /* numbers written */
    int64_t last[2];
    int full;
    /* the run of 1s not written yet: [start, stop), and where the last
       written one stopped */
    int64_t start, stop, written_stop;
    int pending;
} writer;

static void put_number(writer *w, int64_t run)
{
    int64_t number = w->count > 2 ? run - w->last[w->count & 1] : run;
    w->last[w->count & 1] = run;
    w->count++;
    if (number >= -16 && number < 16 && w->used < w->cap) { /* one char */
        w->out[w->used++] = (char)((number & 0x1f) + '0');
        return;
    }
    for (;;) {
        int64_t digit = number & 0x1f;
        /* floor division by 32, also for negative numbers */
        number = number < 0 ? ~(~number >> 5) : number >> 5;
        int more = (digit & 0x10) ? number != -1 : number != 0;
        if (more)
            digit |= 0x20;
        if (w->used >= w->cap) {
            w->full = 1;
            return;
        }
        w->out[w->used++] = (char)(digit + '0');
        if (!more)
            return;
    }
}

static void flush_pending(writer *w)
{
    put_number(w, w->start - w->written_stop);
    put_number(w, w->stop - w->start);
    w->written_stop = w->stop;
    w->pending = 0;
}

/* Adds the pixels [start, stop) (after those added so far) to the band. */
static void add_ones(writer *w, int64_t start, int64_t stop)
{
    if (w->pending && start == w->stop) {
        w->stop = stop;
        return;
    }
    if (w->pending)
        flush_pending(w);
    w->start = start;
    w->stop = stop;
    w->pending = 1;
}

static void finish(writer *w, int64_t total)
{
    if (w->pending)
        flush_pending(w);
    if (w->written_stop < total || w->count == 0)
        put_number(w, total - w->written_stop);
}

/* Scratch space of one call. */
typedef struct {
    spans m, v, s, p, e; /* mask, vertical erosion, suffixes, prefixes,
                            erosion of one column */
    slice *mcol, *vcol, *scol, *pcol; /* per column of the image */
} scratch;

/*
 * The band of one mask, appended to w.  Returns BAND_OK, BAND_NO_MEMORY or
 * 0 if the string is malformed or does not describe h * w pixels.
 */
static int64_t band_of(scratch *t, const unsigned char *pos,
                       const unsigned char *end, int64_t h, int64_t width,
                       int64_t d, writer *w)
{
    reader r = {pos, end, 0, {0, 0}};
    int64_t run, position = 0, total = h * width;
    int status, parity = 0;
    int64_t first = width, last = -1; /* the mask's columns */

    int64_t x = 0, top = 0; /* the column of a run's start, x * h */
    t->m.len = 0;
    while ((status = next_run(&r, &run)) == 1) {
        if (run > total - position)
            return 0;
        if (parity) { /* a run of 1s, split at the columns' ends */
            int64_t s = position, e = position + run;
            while (s < e) {
                if (s >= top + h) { /* a later column */
                    if (s < top + 4 * h) {
                        do {
                            x++;
                            top += h;
                        } while (s >= top + h);
                    } else {
                        x = s / h;
                        top = x * h;
                    }
                }
                if (x > last) { /* columns first seen: empty so far */
                    for (int64_t c = last < 0 ? x : last + 1; c <= x; c++) {
                        t->mcol[c].off = t->m.len;
                        t->mcol[c].len = 0;
                    }
                    first = last < 0 ? x : first;
                    last = x;
                }
                int64_t stop = e < top + h ? e : top + h;
                slice *col = t->mcol + x;
                if (col->len && t->m.items[t->m.len - 1].y1 == s - top) {
                    t->m.items[t->m.len - 1].y1 = stop - top; /* adjacent */
                } else {
                    if (!spans_reserve(&t->m, 1))
                        return BAND_NO_MEMORY;
                    t->m.items[t->m.len].y0 = s - top;
                    t->m.items[t->m.len].y1 = stop - top;
                    t->m.len++;
                    col->len++;
                }
                s = stop;
            }
        }
        position += run;
        parity ^= 1;
    }
    if (status < 0 || position != total)
        return 0;

    /* Vertical erosion. */
    t->v.len = 0;
    for (int64_t x = first; x <= last; x++) {
        slice col = t->mcol[x];
        if (!spans_reserve(&t->v, col.len))
            return BAND_NO_MEMORY;
        t->vcol[x].off = t->v.len;
        for (int64_t k = 0; k < col.len; k++) {
            span sp = t->m.items[col.off + k];
            if (sp.y1 - sp.y0 > 2 * d) {
                t->v.items[t->v.len].y0 = sp.y0 + d;
                t->v.items[t->v.len].y1 = sp.y1 - d;
                t->v.len++;
            }
        }
        t->vcol[x].len = t->v.len - t->vcol[x].off;
    }

    /* Horizontal erosion: windows [x - d, x + d] inside [first, last],
       blocks of `size` columns from `first`.  All prefixes live in p, all
       suffixes in s. */
    int64_t size = 2 * d + 1;
    int have_windows = last - first + 1 >= size;
    t->s.len = t->p.len = 0;
    for (int64_t b = first; have_windows && b <= last; b += size) {
        int64_t stop = b + size - 1 < last ? b + size - 1 : last;
        /* prefixes P[x] = V[b] & ... & V[x] */
        for (int64_t x = b; x <= stop; x++) {
            t->pcol[x] = x == b ? copy(&t->p, &t->v, t->vcol[x])
                : intersect(&t->p, &t->p, t->pcol[x - 1], &t->v, t->vcol[x]);
            if (t->pcol[x].len < 0)
                return BAND_NO_MEMORY;
        }
        /* suffixes S[x] = V[x] & ... & V[stop] */
        for (int64_t x = stop; x >= b; x--) {
            t->scol[x] = x == stop ? copy(&t->s, &t->v, t->vcol[x])
                : intersect(&t->s, &t->v, t->vcol[x], &t->s, t->scol[x + 1]);
            if (t->scol[x].len < 0)
                return BAND_NO_MEMORY;
        }
    }

    /* Band, column after column. */
    for (int64_t x = first; x <= last; x++) {
        slice col = t->mcol[x], ero = {0, 0};
        const spans *es = &t->e;
        int64_t a = x - d; /* the window's first column */
        t->e.len = 0;
        if (have_windows && a >= first && x + d <= last) {
            if ((a - first) % size == 0) { /* the whole block of a */
                ero = t->scol[a];
                es = &t->s;
            } else { /* a suffix of a's block & a prefix of the next */
                ero = intersect(&t->e, &t->s, t->scol[a], &t->p,
                                t->pcol[x + d]);
                if (ero.len < 0)
                    return BAND_NO_MEMORY;
            }
        }
        /* B_x = M_x minus E_x, E_x within M_x */
        int64_t top = x * h, j = 0;
        const span *ep = es->items + ero.off;
        for (int64_t k = 0; k < col.len; k++) {
            span sp = t->m.items[col.off + k];
            int64_t cur = sp.y0;
            while (j < ero.len && ep[j].y0 < sp.y1) {
                if (ep[j].y0 > cur)
                    add_ones(w, top + cur, top + ep[j].y0);
                cur = ep[j].y1;
                j++;
            }
            if (cur < sp.y1)
                add_ones(w, top + cur, top + sp.y1);
        }
    }
    finish(w, total);
    return BAND_OK;
}

/*
 * Bands of the n masks index[0 .. n) of a buffer (mask i is buf[bounds[i]
 * .. bounds[i + 1] - 1), as from rle_kernel.c's vis_rle_measure), all of
 * height h and width `width`, band width d >= 1.  Writes band k to
 * out[out_bounds[k] .. out_bounds[k + 1] - 1) followed by '\n' (capacity
 * `cap` bytes).  Returns BAND_OK, BAND_NO_MEMORY, BAND_FULL (out too
 * small: call again with more) or the position k of the first mask that
 * is malformed or does not describe h * width pixels.
 */
int64_t vis_band(const char *buf, const int64_t *bounds, const int64_t *index,
                 int64_t n, int64_t h, int64_t width, int64_t d, char *out,
                 int64_t cap, int64_t *out_bounds)
{
    scratch t;
    int64_t status = BAND_OK;

    memset(&t, 0, sizeof(t));
    if (width > 0) {
        t.mcol = malloc(sizeof(slice) * (size_t)width);
        t.vcol = malloc(sizeof(slice) * (size_t)width);
        t.scol = malloc(sizeof(slice) * (size_t)width);
        t.pcol = malloc(sizeof(slice) * (size_t)width);
        if (!t.mcol || !t.vcol || !t.scol || !t.pcol)
            status = BAND_NO_MEMORY;
    }
    writer w;
    memset(&w, 0, sizeof(w));
    w.out = out;
    w.cap = cap;
    for (int64_t k = 0; k < n && status == BAND_OK; k++) {
        const unsigned char *pos =
            (const unsigned char *)buf + bounds[index[k]];
        const unsigned char *end =
            (const unsigned char *)buf + bounds[index[k] + 1] - 1;
        out_bounds[k] = w.used;
        w.count = w.last[0] = w.last[1] = 0;
        w.start = w.stop = w.written_stop = 0;
        w.pending = 0;
        int64_t result = h > 0 && width > 0
            ? band_of(&t, pos, end, h, width, d, &w)
            : BAND_OK;
        if (h <= 0 || width <= 0) {
            reader r = {pos, end, 0, {0, 0}};
            int64_t run, sum = 0;
            int got;
            while ((got = next_run(&r, &run)) == 1)
                sum += run;
            if (got < 0 || sum != 0)
                result = 0;
            else
                finish(&w, 0);
        }
        if (result == 0)
            status = k;
        else if (result != BAND_OK)
            status = result;
        else if (w.full || w.used >= cap)
            status = BAND_FULL;
        else
            w.out[w.used++] = '\n';
    }
    if (status == BAND_OK)
        out_bounds[n] = w.used;
    free(t.m.items);
    free(t.v.items);
    free(t.s.items);
    free(t.p.items);
    free(t.e.items);
    free(t.mcol);
    free(t.vcol);
    free(t.scol);
    free(t.pcol);
    return status;
}
