/* fa_pool_run: a parallel loop over parts that never waits for a thread that has not started.
 *
 * The calling thread publishes the loop and runs parts itself; helper threads (a pool
 * made on first use, at most FA_POOL_MAX) take parts too while they run, each part by
 * exactly one thread (an atomic claim).  The caller waits only for parts a helper has
 * claimed, never for a helper the OS has not scheduled: with other processes busy on
 * the cores a loop degrades towards the serial time instead of stalling for a time
 * slice (an OpenMP region must wait at its barrier for every team member).  Which
 * thread runs a part never changes its bits.  An idle helper spins FA_POOL_SPIN_NS,
 * then sleeps; one loop at a time uses the pool (a concurrent caller runs its loop
 * serially), and the loop function must not call fa_pool_run.
 * Compiled only with OpenMP available (its flags bring pthreads); else loops are serial. */
#ifndef FA_WORKPOOL_H
#define FA_WORKPOOL_H
#include <stddef.h>
#include <stdint.h>

typedef void (*fa_pool_fn)(void *ctx, ptrdiff_t part);

#if defined(_OPENMP)
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FA_POOL_RELAX() _mm_pause()
#else
#define FA_POOL_RELAX() ((void)0)
#endif

/* never inlined: inlined with a constant fn, a loop and its callee would grow the unit and
   use up gcc's inlining budget that the kernels' scalar formulas need */
#if defined(__GNUC__)
#define FA_POOL_NOINLINE __attribute__((noinline))
#else
#define FA_POOL_NOINLINE
#endif

#define FA_POOL_MAX 256           /* helper threads at most */
#define FA_POOL_SPIN_NS 50000     /* an idle helper spins this long before it sleeps */
#define FA_POOL_WAIT_SPINS 2000   /* the caller's pauses before it yields its core */

/* the published loop: one word = generation (32 bits) | parts (16) | next part (16),
   claimed by compare-and-swap; the fields below belong to the word's generation */
static struct {
    _Atomic uint64_t word;
    _Atomic(fa_pool_fn) fn;
    _Atomic(void *) ctx;
    _Atomic int allowed;          /* helpers 0 .. allowed-1 may take parts */
    _Atomic ptrdiff_t done;       /* parts finished */
    _Atomic int sleepers;
    int helpers;                  /* started (guarded by call) */
    pthread_mutex_t call, sleep;
    pthread_cond_t wake;
} fa_pool = {0, NULL, NULL, 0, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
             PTHREAD_COND_INITIALIZER};

#define FA_POOL_GEN(w) ((uint32_t)((w) >> 32))
#define FA_POOL_PARTS(w) ((ptrdiff_t)(((w) >> 16) & 0xffff))
#define FA_POOL_NEXT(w) ((ptrdiff_t)((w) & 0xffff))

/* claim the next part of generation gen: 1 and *part, or 0 when none is left */
static int fa_pool_claim(uint32_t gen, ptrdiff_t *part) {
    uint64_t w = atomic_load(&fa_pool.word);
    while (FA_POOL_GEN(w) == gen && FA_POOL_NEXT(w) < FA_POOL_PARTS(w)) {
        if (atomic_compare_exchange_weak(&fa_pool.word, &w, w + 1)) {
            *part = FA_POOL_NEXT(w);
            return 1;
        }
    }
    return 0;
}

/* run parts of generation gen while any is left (fn and ctx: read before the first claim,
   valid because a successful claim proves the generation unfinished) */
static FA_POOL_NOINLINE void fa_pool_work(uint32_t gen, fa_pool_fn fn, void *ctx) {
    ptrdiff_t part;
    while (fa_pool_claim(gen, &part)) {
        fn(ctx, part);
        atomic_fetch_add(&fa_pool.done, 1);
    }
}

static int64_t fa_pool_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void fa_pool_sleep_while(uint32_t seen) {
    pthread_mutex_lock(&fa_pool.sleep);
    atomic_fetch_add(&fa_pool.sleepers, 1);
    while (FA_POOL_GEN(atomic_load(&fa_pool.word)) == seen)
        pthread_cond_wait(&fa_pool.wake, &fa_pool.sleep);
    atomic_fetch_sub(&fa_pool.sleepers, 1);
    pthread_mutex_unlock(&fa_pool.sleep);
}

static void *fa_pool_helper(void *arg) {
    const int index = (int)(intptr_t)arg;
    uint32_t seen = FA_POOL_GEN(atomic_load(&fa_pool.word));
    int64_t idle_since = fa_pool_now_ns();
    for (;;) {
        const uint32_t gen = FA_POOL_GEN(atomic_load(&fa_pool.word));
        if (gen != seen) {
            seen = gen;
            if (index < atomic_load(&fa_pool.allowed))
                fa_pool_work(gen, atomic_load(&fa_pool.fn), atomic_load(&fa_pool.ctx));
            idle_since = fa_pool_now_ns();
        } else if (fa_pool_now_ns() - idle_since < FA_POOL_SPIN_NS) {
            for (int i = 0; i < 64; i++) FA_POOL_RELAX();
        } else {
            fa_pool_sleep_while(seen);
        }
    }
    return NULL;
}

/* start helpers up to n (caller holds fa_pool.call); returns how many there are */
static int fa_pool_grow(int n) {
    if (n > FA_POOL_MAX) n = FA_POOL_MAX;
    while (fa_pool.helpers < n) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int failed = pthread_create(&t, &attr, fa_pool_helper,
                                          (void *)(intptr_t)fa_pool.helpers);
        pthread_attr_destroy(&attr);
        if (failed) break;  /* fewer helpers: the loop still completes */
        fa_pool.helpers++;
    }
    return fa_pool.helpers;
}

/* fn(ctx, p) for every p in [0, parts) on the caller and up to threads - 1 helpers */
static FA_POOL_NOINLINE void fa_pool_run(fa_pool_fn fn, void *ctx, ptrdiff_t parts,
                                         int threads) {
    if (threads <= 1 || parts <= 1 || parts > 0xffff
            || pthread_mutex_trylock(&fa_pool.call) != 0) {
        for (ptrdiff_t p = 0; p < parts; p++) fn(ctx, p);
        return;
    }
    const int helpers = fa_pool_grow(threads - 1);
    atomic_store(&fa_pool.fn, fn);
    atomic_store(&fa_pool.ctx, ctx);
    atomic_store(&fa_pool.allowed, helpers < threads - 1 ? helpers : threads - 1);
    atomic_store(&fa_pool.done, 0);
    const uint32_t gen = FA_POOL_GEN(atomic_load(&fa_pool.word)) + 1;
    atomic_store(&fa_pool.word, ((uint64_t)gen << 32) | ((uint64_t)parts << 16));
    if (atomic_load(&fa_pool.sleepers) > 0) {
        pthread_mutex_lock(&fa_pool.sleep);
        pthread_cond_broadcast(&fa_pool.wake);
        pthread_mutex_unlock(&fa_pool.sleep);
    }
    fa_pool_work(gen, fn, ctx);
    for (long spins = 0; atomic_load(&fa_pool.done) < parts; spins++) {
        if (spins < FA_POOL_WAIT_SPINS) FA_POOL_RELAX();
        else sched_yield();  /* a helper preempted on this core gets it back */
    }
    pthread_mutex_unlock(&fa_pool.call);
}
#else
static void fa_pool_run(fa_pool_fn fn, void *ctx, ptrdiff_t parts, int threads) {
    (void)threads;
    for (ptrdiff_t p = 0; p < parts; p++) fn(ctx, p);
}
#endif
#endif
