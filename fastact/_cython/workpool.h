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
 * serially), and the loop function must not call fa_pool_run.  The caller, out of parts,
 * spins about two of its part times for the parts helpers hold before it gives up its core.
 * Contention: a loop whose caller, out of parts, waited for claimed parts longer than it
 * would have taken to run them (fa_pool_stalled: a helper was descheduled) makes the loops
 * of the next window run on one thread fewer (fa_pool_threads_for); the window doubles
 * while the first loop after it stalls again and ends after a loop that does not.
 * Placement: a helper starting a loop on its caller's core moves off it (fa_pool_keep_apart).
 * Compiled only with OpenMP available (its flags bring pthreads); else loops are serial. */
#ifndef FA_WORKPOOL_H
#define FA_WORKPOOL_H
#include <stddef.h>
#include <stdint.h>

#include "fa_constants.h"

typedef void (*fa_pool_fn)(void *ctx, ptrdiff_t part);

/* the contention policy's constants come from fastact/_constants.py (fa_constants.h) */
#define FA_POOL_STALL_MIN_NS FA_CONTENTION_STALL_MIN_NS
#define FA_POOL_SOLO_MIN_NS FA_CONTENTION_WINDOW_MIN_NS
#define FA_POOL_SOLO_MAX_NS FA_CONTENTION_WINDOW_MAX_NS
#define FA_POOL_JOIN_SPIN_PARTS FA_CONTENTION_JOIN_SPIN_PARTS
#define FA_POOL_JOIN_SPIN_MIN_NS FA_CONTENTION_JOIN_SPIN_MIN_NS
#define FA_POOL_JOIN_SPIN_MAX_NS FA_CONTENTION_JOIN_SPIN_MAX_NS

/* 1 when a loop of `parts` parts took longer than its caller alone would have: the caller
   ran own_parts of them in own_ns, then waited wait_ns for the parts helpers had claimed,
   longer than it takes to run as many (at its mean part time) and than FA_POOL_STALL_MIN_NS
   (a helper holding one was descheduled: fewer threads would have been faster) */
static inline int fa_pool_stalled(int64_t own_ns, ptrdiff_t own_parts, ptrdiff_t parts,
                                  int64_t wait_ns) {
    int64_t limit = own_parts > 0 ? (int64_t)(parts - own_parts) * (own_ns / own_parts) : 0;
    if (limit < FA_POOL_STALL_MIN_NS) limit = FA_POOL_STALL_MIN_NS;
    return wait_ns > limit;
}

/* the reduced-thread window after a loop that ran with the threads asked for: doubled after
   a stall (FA_POOL_SOLO_MIN_NS first, at most FA_POOL_SOLO_MAX_NS), none after a clean loop */
static inline int64_t fa_pool_next_window(int64_t window, int stalled) {
    if (!stalled) return 0;
    if (window < FA_POOL_SOLO_MIN_NS) return FA_POOL_SOLO_MIN_NS;
    return window >= FA_POOL_SOLO_MAX_NS / 2 ? FA_POOL_SOLO_MAX_NS : 2 * window;
}

/* the threads of a loop asked for `threads` at time now: the cap while a window lasts */
static inline int fa_pool_threads_for(int threads, int cap, int64_t now, int64_t until) {
    return (now < until && cap < threads) ? (cap > 1 ? cap : 1) : threads;
}


#if defined(_OPENMP)
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
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
#define FA_POOL_POLL_PAUSES 8     /* ... looking for a new loop every this many pauses */
#define FA_POOL_WAIT_SPINS 2000   /* the caller's pauses before it gives up its core (tuning) */
#define FA_POOL_WAIT_SLEEP_NS 1000000  /* the caller re-checks at least this often asleep */
/* the published loop: one word = generation (32 bits) | front (16) | back (16), the parts
   in [front, back) unclaimed; the caller claims from the front, helpers from the back (by
   compare-and-swap), so that on cache-resident data each thread's parts stay near the ones
   it ran in the last loop, in its own cache; the fields below belong to the word's generation */
static struct {
    _Atomic uint64_t word;
    _Atomic(fa_pool_fn) fn;
    _Atomic(void *) ctx;
    _Atomic ptrdiff_t parts;
    _Atomic int allowed;          /* helpers 0 .. allowed-1 may take parts */
    _Atomic ptrdiff_t done;       /* parts finished */
    _Atomic int sleepers;
    _Atomic int caller_asleep;    /* the caller waits on `finished` */
    int helpers;                  /* started (guarded by call) */
    pthread_mutex_t call, sleep;
    pthread_cond_t wake, finished;
    /* contention: loops run with at most `cap` threads until `until` (ns, monotonic) */
    _Atomic int cap;
    _Atomic int64_t until;
    _Atomic int64_t window;
    _Atomic int last_threads;     /* threads the last loop was allowed (1: serial) */
    _Atomic long stalls;          /* loops that waited on a descheduled helper */
    /* both off by default: on an idle machine with one busy core they made compute-bound
       loops slower (docs/tuning.md, "Contention"); switched on for tuning runs */
    _Atomic int adaptive;         /* 1: the thread cap after a stall */
    _Atomic int sleeping_join;    /* 1: the caller sleeps instead of yielding */
    /* the caller's thread and core (-1: unknown), published with each loop */
    _Atomic long caller_tid;
    _Atomic int caller_cpu;
    _Atomic int apart;            /* 1: a helper on the caller's core moves off it */
    _Atomic long moves;           /* helpers moved off the caller's core */
    _Atomic int join_spin_parts;  /* the join's spin in mean part times (0: FA_POOL_WAIT_SPINS) */
} fa_pool = {0, NULL, NULL, 0, 0, 0, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
             PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0, -1, 1, 0,
             FA_POOL_JOIN_SPIN_PARTS};

#define FA_POOL_GEN(w) ((uint32_t)((w) >> 32))
#define FA_POOL_FRONT(w) ((ptrdiff_t)(((w) >> 16) & 0xffff))
#define FA_POOL_BACK(w) ((ptrdiff_t)((w) & 0xffff))

/* claim a part of generation gen, the first unclaimed one (the caller) or the last (from_back:
   helpers): 1 and *part, or 0 when none is left */
static int fa_pool_claim(uint32_t gen, int from_back, ptrdiff_t *part) {
    uint64_t w = atomic_load(&fa_pool.word);
    while (FA_POOL_GEN(w) == gen && FA_POOL_FRONT(w) < FA_POOL_BACK(w)) {
        if (atomic_compare_exchange_weak(&fa_pool.word, &w,
                                         from_back ? w - 1 : w + ((uint64_t)1 << 16))) {
            *part = from_back ? FA_POOL_BACK(w) - 1 : FA_POOL_FRONT(w);
            return 1;
        }
    }
    return 0;
}

/* run parts of generation gen while any is left (fn and ctx: read before the first claim,
   valid because a successful claim proves the generation unfinished); returns how many.
   A thread counts its parts done once, when none is left to claim (one atomic add a
   thread, not one a part); the thread completing the count wakes a sleeping caller */
static FA_POOL_NOINLINE ptrdiff_t fa_pool_work(uint32_t gen, fa_pool_fn fn, void *ctx,
                                               ptrdiff_t parts, int from_back) {
    ptrdiff_t part, ran = 0;
    while (fa_pool_claim(gen, from_back, &part)) {
        fn(ctx, part);
        ran++;
    }
    if (ran && atomic_fetch_add(&fa_pool.done, ran) + ran == parts
            && atomic_load(&fa_pool.caller_asleep)) {
        pthread_mutex_lock(&fa_pool.sleep);
        pthread_cond_broadcast(&fa_pool.finished);
        pthread_mutex_unlock(&fa_pool.sleep);
    }
    return ran;
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

#if defined(__linux__)
/* a helper woken on the core its caller runs on shares that core with it (the scheduler
   places a woken thread near its waker, also when another process keeps the other cores
   busy): it narrows its affinity to its cores but the caller's (else the caller's cores but
   that one), so the loop gets a core of its own or a share of another's */
static void fa_pool_keep_apart(void) {
    const int cpu = atomic_load(&fa_pool.caller_cpu);
    if (!atomic_load(&fa_pool.apart) || cpu < 0 || cpu >= CPU_SETSIZE || sched_getcpu() != cpu)
        return;
    cpu_set_t set;
    if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) != 0) return;
    CPU_CLR(cpu, &set);
    if (CPU_COUNT(&set) == 0) {
        if (sched_getaffinity((pid_t)atomic_load(&fa_pool.caller_tid), sizeof set, &set) != 0)
            return;
        CPU_CLR(cpu, &set);
    }
    if (CPU_COUNT(&set) > 0 && pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0)
        atomic_fetch_add(&fa_pool.moves, 1);
}

/* not cached: a forked child's thread has a new id */
static void fa_pool_publish_caller(void) {
    atomic_store(&fa_pool.caller_tid, (long)syscall(SYS_gettid));
    atomic_store(&fa_pool.caller_cpu, sched_getcpu());
}
#else
static void fa_pool_keep_apart(void) {}
static void fa_pool_publish_caller(void) {}
#endif

static void *fa_pool_helper(void *arg) {
    const int index = (int)(intptr_t)arg;
    uint32_t seen = FA_POOL_GEN(atomic_load(&fa_pool.word));
    int64_t idle_since = fa_pool_now_ns();
    for (;;) {
        const uint64_t word = atomic_load(&fa_pool.word);
        const uint32_t gen = FA_POOL_GEN(word);
        if (gen != seen) {
            seen = gen;
            if (index < atomic_load(&fa_pool.allowed)) {
                fa_pool_keep_apart();
                fa_pool_work(gen, atomic_load(&fa_pool.fn), atomic_load(&fa_pool.ctx),
                             atomic_load(&fa_pool.parts), 1);
            }
            idle_since = fa_pool_now_ns();
        } else if (fa_pool_now_ns() - idle_since < FA_POOL_SPIN_NS) {
            for (int i = 0; i < FA_POOL_POLL_PAUSES; i++) FA_POOL_RELAX();
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
#if defined(__linux__)
        pthread_setname_np(t, "fastact-pool");  /* what top -H and the tests see */
#endif
        fa_pool.helpers++;
    }
    return fa_pool.helpers;
}

/* how long the caller, out of parts, spins for the parts helpers hold: a helper that runs
   finishes its part within about one part time, and giving up the core (a yield, or a sleep)
   beside busy processes costs a whole scheduler slice before the caller runs again */
static inline int64_t fa_pool_join_spin_ns(int64_t own_ns, ptrdiff_t own_parts, int spin_parts) {
    int64_t ns = own_parts > 0 ? spin_parts * (own_ns / own_parts) : 0;
    if (ns < FA_POOL_JOIN_SPIN_MIN_NS) ns = FA_POOL_JOIN_SPIN_MIN_NS;
    return ns > FA_POOL_JOIN_SPIN_MAX_NS ? FA_POOL_JOIN_SPIN_MAX_NS : ns;
}

/* wait until every part of `parts` is done: spin (spin_ns, or FA_POOL_WAIT_SPINS pauses when
   0), then yield or sleep until the last one wakes us (the caller's core then goes idle, and
   the OS may move a preempted helper onto it) */
static void fa_pool_join(ptrdiff_t parts, int64_t spin_ns) {
    if (spin_ns > 0) {
        const int64_t until = fa_pool_now_ns() + spin_ns;
        while (atomic_load(&fa_pool.done) < parts) {
            for (int i = 0; i < 16; i++) FA_POOL_RELAX();
            if (atomic_load(&fa_pool.done) >= parts) return;
            if (fa_pool_now_ns() > until) break;
        }
    } else {
        for (int spins = 0; spins < FA_POOL_WAIT_SPINS; spins++) {
            if (atomic_load(&fa_pool.done) >= parts) return;
            FA_POOL_RELAX();
        }
    }
    if (atomic_load(&fa_pool.done) >= parts) return;
    if (!atomic_load(&fa_pool.sleeping_join)) {
        while (atomic_load(&fa_pool.done) < parts) sched_yield();
        return;
    }
    pthread_mutex_lock(&fa_pool.sleep);
    atomic_store(&fa_pool.caller_asleep, 1);  /* before the check: the waker sees one of them */
    while (atomic_load(&fa_pool.done) < parts) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += FA_POOL_WAIT_SLEEP_NS;
        if (t.tv_nsec >= 1000000000) { t.tv_sec++; t.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&fa_pool.finished, &fa_pool.sleep, &t);
    }
    atomic_store(&fa_pool.caller_asleep, 0);
    pthread_mutex_unlock(&fa_pool.sleep);
}

/* loops run with at most cap threads for the next window_ns */
static void fa_pool_open_window(int cap, int64_t window_ns) {
    atomic_store(&fa_pool.window, window_ns);
    atomic_store(&fa_pool.cap, cap);
    atomic_store(&fa_pool.until, fa_pool_now_ns() + window_ns);
}

/* record a loop run with `used` of `asked` threads: a stall opens (or doubles) the window
   of loops capped at used - 1 threads; a clean loop with all threads asked for closes it */
static void fa_pool_note(int asked, int used, int stalled) {
    if (stalled) {
        atomic_fetch_add(&fa_pool.stalls, 1);
        fa_pool_open_window(used - 1, fa_pool_next_window(atomic_load(&fa_pool.window), 1));
    } else if (used == asked) {
        atomic_store(&fa_pool.window, 0);
    }
}

/* fn(ctx, p) for every p in [0, parts) on the caller and up to threads - 1 helpers (fewer
   while a contention window lasts: fa_pool_threads_for) */
static FA_POOL_NOINLINE void fa_pool_run(fa_pool_fn fn, void *ctx, ptrdiff_t parts,
                                         int threads) {
    const int adaptive = atomic_load(&fa_pool.adaptive);
    const int64_t start = threads > 1 && parts > 1 ? fa_pool_now_ns() : 0;
    const int asked = threads;
    if (adaptive && start)
        threads = fa_pool_threads_for(threads, atomic_load(&fa_pool.cap), start,
                                      atomic_load(&fa_pool.until));
    if (threads <= 1 || parts <= 1 || parts > 0xffff
            || pthread_mutex_trylock(&fa_pool.call) != 0) {
        if (asked > 1 && parts > 1) atomic_store(&fa_pool.last_threads, 1);
        for (ptrdiff_t p = 0; p < parts; p++) fn(ctx, p);
        return;
    }
    const int helpers = fa_pool_grow(threads - 1);
    atomic_store(&fa_pool.fn, fn);
    atomic_store(&fa_pool.ctx, ctx);
    atomic_store(&fa_pool.parts, parts);
    atomic_store(&fa_pool.allowed, helpers < threads - 1 ? helpers : threads - 1);
    atomic_store(&fa_pool.done, 0);
    fa_pool_publish_caller();
    const uint32_t gen = FA_POOL_GEN(atomic_load(&fa_pool.word)) + 1;
    atomic_store(&fa_pool.word, ((uint64_t)gen << 32) | (uint64_t)parts);
    if (atomic_load(&fa_pool.sleepers) > 0) {
        pthread_mutex_lock(&fa_pool.sleep);
        pthread_cond_broadcast(&fa_pool.wake);
        pthread_mutex_unlock(&fa_pool.sleep);
    }
    const ptrdiff_t own = fa_pool_work(gen, fn, ctx, parts, 0);
    const int64_t own_end = fa_pool_now_ns();
    const int spin_parts = atomic_load(&fa_pool.join_spin_parts);
    fa_pool_join(parts, spin_parts > 0 ? fa_pool_join_spin_ns(own_end - start, own, spin_parts) : 0);
    const int64_t end = fa_pool_now_ns();
    atomic_store(&fa_pool.last_threads, threads);
    if (adaptive)
        fa_pool_note(asked, threads,
                     fa_pool_stalled(own_end - start, own, parts, end - own_end));
    pthread_mutex_unlock(&fa_pool.call);
}

/* the state of the contention policy, for tests and tuning runs: *last the threads of the
   last parallel-size loop, *cap and *remaining_ns the window in force, *stalls its count */
static void fa_pool_state(int *last, int *cap, int64_t *remaining_ns, long *stalls) {
    const int64_t left = atomic_load(&fa_pool.until) - fa_pool_now_ns();
    *last = atomic_load(&fa_pool.last_threads);
    *cap = atomic_load(&fa_pool.cap);
    *remaining_ns = left > 0 ? left : 0;
    *stalls = atomic_load(&fa_pool.stalls);
}

/* switch the contention policy on or off (tuning runs); returns the previous setting and
   closes any window */
static int fa_pool_set_adaptive(int on) {
    atomic_store(&fa_pool.until, 0);
    atomic_store(&fa_pool.window, 0);
    return atomic_exchange(&fa_pool.adaptive, on ? 1 : 0);
}

/* helpers on the caller's core move off it (1) or stay (0: tuning runs); returns the
   previous setting; *moves counts the moves so far */
static int fa_pool_set_apart(int on, long *moves) {
    *moves = atomic_load(&fa_pool.moves);
    return atomic_exchange(&fa_pool.apart, on ? 1 : 0);
}

/* the caller waits for claimed parts asleep (1) or yielding its core (0: tuning runs);
   returns the previous setting */
static int fa_pool_set_sleeping_join(int on) {
    return atomic_exchange(&fa_pool.sleeping_join, on ? 1 : 0);
}

/* the join's spin in mean part times (0: FA_POOL_WAIT_SPINS pauses; tuning runs); returns
   the previous setting */
static int fa_pool_set_join_spin_parts(int parts) {
    return atomic_exchange(&fa_pool.join_spin_parts, parts > 0 ? parts : 0);
}
#else
static void fa_pool_run(fa_pool_fn fn, void *ctx, ptrdiff_t parts, int threads) {
    (void)threads;
    for (ptrdiff_t p = 0; p < parts; p++) fn(ctx, p);
}
static void fa_pool_state(int *last, int *cap, int64_t *remaining_ns, long *stalls) {
    *last = 1; *cap = 1; *remaining_ns = 0; *stalls = 0;
}
static int fa_pool_set_adaptive(int on) { (void)on; return 0; }
static int fa_pool_set_sleeping_join(int on) { (void)on; return 0; }
static int fa_pool_set_join_spin_parts(int parts) { (void)parts; return 0; }
static void fa_pool_open_window(int cap, int64_t window_ns) { (void)cap; (void)window_ns; }
#endif
#endif
