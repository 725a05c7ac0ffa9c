/* The event-driven kernel of the hybrid's fast simulation: one LSTM step of the encoders and the
   gate neurons, per sample and SNN step; the math and its exactness are in event_gates.py. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t v8si __attribute__((vector_size(32)));
typedef int16_t v8hi __attribute__((vector_size(16)));
typedef int16_t v16hi __attribute__((vector_size(32)));
#define INLINE static inline __attribute__((always_inline))

INLINE v8si load8(const int32_t *p) { v8si x; memcpy(&x, p, sizeof x); return x; }
INLINE void store8(int32_t *p, v8si x) { memcpy(p, &x, sizeof x); }
INLINE v8si load8w(const int16_t *p) { v8hi x; memcpy(&x, p, sizeof x); return __builtin_convertvector(x, v8si); }
INLINE v16hi load16w(const int16_t *p) { v16hi x; memcpy(&x, p, sizeof x); return x; }

typedef struct {
    int64_t columns;
    const int16_t *weight_t;
    const int32_t *positive, *negative;
    int64_t n_pos, n_neg;
} Events;

/* acc[0..nvec) = the int32 currents of columns c .. c + 8 nvec. */
INLINE void currents32(int nvec, int64_t c, const Events *e, v8si *acc)
{
    for (int i = 0; i < nvec; i++) acc[i] = (v8si){0};
    for (int64_t k = 0; k < e->n_pos; k++) {
        const int16_t *w = e->weight_t + (int64_t)e->positive[k] * e->columns + c;
        for (int i = 0; i < nvec; i++) acc[i] += load8w(w + 8 * i);
    }
    for (int64_t k = 0; k < e->n_neg; k++) {
        const int16_t *w = e->weight_t + (int64_t)e->negative[k] * e->columns + c;
        for (int i = 0; i < nvec; i++) acc[i] -= load8w(w + 8 * i);
    }
}

/* The same for 64 columns, summed in int16 (exact: at most 255 events of |W| <= 128). */
INLINE void currents16(int64_t c, const Events *e, v8si *acc)
{
    v16hi sum[4] = {{0}, {0}, {0}, {0}};
    for (int64_t k = 0; k < e->n_pos; k++) {
        const int16_t *w = e->weight_t + (int64_t)e->positive[k] * e->columns + c;
        for (int i = 0; i < 4; i++) sum[i] += load16w(w + 16 * i);
    }
    for (int64_t k = 0; k < e->n_neg; k++) {
        const int16_t *w = e->weight_t + (int64_t)e->negative[k] * e->columns + c;
        for (int i = 0; i < 4; i++) sum[i] -= load16w(w + 16 * i);
    }
    for (int i = 0; i < 4; i++) {
        acc[2 * i] = __builtin_convertvector(__builtin_shufflevector(sum[i], sum[i], 0, 1, 2, 3, 4, 5, 6, 7), v8si);
        acc[2 * i + 1] = __builtin_convertvector(__builtin_shufflevector(sum[i], sum[i], 8, 9, 10, 11, 12, 13, 14, 15), v8si);
    }
}

typedef struct {
    const int32_t *bias, *threshold, *lower_after_reset;
    int32_t *v, *lower, *net, *fired_count;
} Gates;

/* One SNN step of columns c .. c + 8 nvec with currents acc. */
INLINE void gate_step(int nvec, int hard, int64_t c, const v8si *acc, const Gates *g)
{
    for (int i = 0; i < nvec; i++) {
        int64_t n = c + 8 * i;
        v8si theta = load8(g->threshold + n), low = load8(g->lower + n);
        v8si potential = load8(g->v + n) + 2 * acc[i] + load8(g->bias + n);
        v8si p = potential > theta, m = low > potential;   /* -1 where true */
        v8si out = m - p, fired = p | m;
        if (hard) {
            potential &= ~fired;
            store8(g->lower + n, (fired & load8(g->lower_after_reset + n)) | (~fired & low));
        } else {
            potential -= theta * out;
        }
        store8(g->v + n, potential);
        store8(g->net + n, load8(g->net + n) + out);
        store8(g->fired_count + n, load8(g->fired_count + n) - fired);
    }
}

INLINE void simulate(int hard, int64_t batch, int64_t fanin, int64_t columns, int64_t n_timestep,
    const int32_t *q_sign, const int32_t *q_abs, const int32_t *first, const int32_t *period,
    const int16_t *weight_t, const int32_t *bias, const int32_t *threshold, const int32_t *start,
    const int32_t *lower_start, const int32_t *lower_after_reset, int32_t offset, int32_t encoder_threshold,
    int32_t *net, int32_t *fired_count, int32_t n_threads)
{
    #pragma omp parallel num_threads(n_threads)
    {
        int32_t *v = malloc(sizeof(int32_t) * columns * 2);
        int32_t *positive = malloc(sizeof(int32_t) * fanin * 3), *negative = positive + fanin, *spike = negative + fanin;
        const int32_t mask = encoder_threshold - 1;
        #pragma omp for schedule(static)
        for (int64_t b = 0; b < batch; b++) {
            const int32_t *qs = q_sign + b * fanin, *qa = q_abs + b * fanin;
            const int32_t *fb = first + b * fanin, *pb = period + b * fanin;
            Gates g = {bias, threshold, lower_after_reset, v, v + columns, net + b * columns, fired_count + b * columns};
            memcpy(g.v, start, sizeof(int32_t) * columns);
            memcpy(g.lower, lower_start, sizeof(int32_t) * columns);
            memset(g.net, 0, sizeof(int32_t) * columns);
            memset(g.fired_count, 0, sizeof(int32_t) * columns);
            Events e = {columns, weight_t, positive, negative, 0, 0};
            for (int32_t tau = 1; tau <= n_timestep; tau++) {
                for (int64_t j = 0; j < fanin; j++)
                    spike[j] = (hard ? (tau >= fb[j]) & ((tau - fb[j]) % pb[j] == 0)
                                     : ((offset + tau * qa[j]) & mask) < qa[j]) ? qs[j] : 0;
                int64_t n_pos = 0, n_neg = 0;
                for (int64_t j = 0; j < fanin; j++) {
                    positive[n_pos] = (int32_t)j;
                    n_pos += spike[j] > 0;
                    negative[n_neg] = (int32_t)j;
                    n_neg += spike[j] < 0;
                }
                e.n_pos = n_pos;
                e.n_neg = n_neg;
                v8si acc[8];
                int64_t c = 0;
                for (; c + 64 <= columns; c += 64) {
                    if (n_pos + n_neg <= 255) currents16(c, &e, acc);
                    else currents32(8, c, &e, acc);
                    gate_step(8, hard, c, acc, &g);
                }
                for (; c < columns; c += 8) {
                    currents32(1, c, &e, acc);
                    gate_step(1, hard, c, acc, &g);
                }
            }
        }
        free(positive);
        free(v);
    }
}

void event_gate_steps(int64_t batch, int64_t fanin, int64_t columns, int64_t n_timestep,
                      const int32_t *q_sign, const int32_t *q_abs, const int32_t *first, const int32_t *period,
                      const int16_t *weight_t, const int32_t *bias, const int32_t *threshold,
                      const int32_t *start, const int32_t *lower_start, const int32_t *lower_after_reset,
                      int32_t hard, int32_t offset, int32_t encoder_threshold,
                      int32_t *net, int32_t *fired_count, int32_t n_threads)
{
    if (hard)
        simulate(1, batch, fanin, columns, n_timestep, q_sign, q_abs, first, period, weight_t, bias, threshold, start,
                 lower_start, lower_after_reset, offset, encoder_threshold, net, fired_count, n_threads);
    else
        simulate(0, batch, fanin, columns, n_timestep, q_sign, q_abs, first, period, weight_t, bias, threshold, start,
                 lower_start, lower_after_reset, offset, encoder_threshold, net, fired_count, n_threads);
}
