/* bench/harness.h — a tiny benchmark harness: each figure is measured beside
 * a floor (a raw loop doing the minimum work on a same-sized array) in the
 * same run, and printed with the ratio. */
#ifndef MMSIM_BENCH_HARNESS_H
#define MMSIM_BENCH_HARNESS_H

#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mm/mm.h"

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Runs body `iters` times, best of `rounds`; returns ns per iteration. */
#define BENCH_NS(iters, rounds, ...)                                        \
    ({                                                                       \
        double best_ = 1e300;                                                \
        for (int r_ = 0; r_ < (rounds); r_++) {                              \
            double t0_ = bench_now();                                        \
            for (uint64_t i_ = 0; i_ < (uint64_t)(iters); i_++) {            \
                __VA_ARGS__;                                                 \
            }                                                                \
            double t_ = (bench_now() - t0_) / (double)(iters);               \
            if (t_ < best_)                                                  \
                best_ = t_;                                                  \
        }                                                                    \
        best_;                                                               \
    })

static inline void bench_header(void)
{
    printf("%-44s %14s %14s %9s\n", "figure", "value", "floor", "ratio");
}

static inline void bench_row(const char *name, double value, double floor, const char *unit)
{
    printf("%-44s %11.1f %-2s %11.1f %-2s %8.2fx\n", name, value, unit, floor, unit,
           floor > 0 ? value / floor : 0.0);
}

/* A machine for a benchmark; a run that cannot make one stops here. */
static inline mm_machine *bench_machine(const struct mm_config *cfg)
{
    mm_machine *m = NULL;
    if (mm_machine_create(cfg, &m) != MM_STATUS_SUCCESS) {
        fprintf(stderr, "bench: cannot create a machine\n");
        exit(1);
    }
    return m;
}

/* Keeps the optimiser from deleting the floor loops. */
static volatile uint64_t bench_sink;

#endif
