/* A persistent thread pool for cpu_parallel_for.  Workers sleep on a
 * condition variable between calls; items are handed out with an atomic
 * counter, so load balances itself and results never depend on which
 * thread ran which item (every item writes only its own outputs). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels/cpu/cpu_internal.h"

#define POOL_MAX 256

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_t th[POOL_MAX];
    int nthreads;    /* workers started */
    uint64_t gen;    /* bumped for each job */
    int want;        /* workers taking part in the current job */
    int running;     /* workers still inside the current job */
    cpu_task_fn fn;
    void *arg;
    int64_t n;
    atomic_llong next;
} pool_t;

static pool_t pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
                      .done = PTHREAD_COND_INITIALIZER};
/* One job at a time: cpu_parallel_for may be called from several threads. */
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER;

static void run_items(cpu_task_fn fn, void *arg, int64_t n)
{
    for (;;) {
        int64_t i = atomic_fetch_add(&pool.next, 1);
        if (i >= n)
            break;
        fn(arg, i);
    }
}

static void *worker(void *p)
{
    int id = (int)(intptr_t)p;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen || id >= pool.want)
            pthread_cond_wait(&pool.wake, &pool.mu);
        seen = pool.gen;
        cpu_task_fn fn = pool.fn;
        void *arg = pool.arg;
        int64_t n = pool.n;
        pthread_mutex_unlock(&pool.mu);
        run_items(fn, arg, n);
        pthread_mutex_lock(&pool.mu);
        if (--pool.running == 0)
            pthread_cond_signal(&pool.done);
    }
    return NULL;
}

void cpu_parallel_for(int nthreads, int64_t n, cpu_task_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (nthreads > POOL_MAX)
        nthreads = POOL_MAX;
    if (nthreads <= 1 || n == 1) {
        for (int64_t i = 0; i < n; i++)
            fn(arg, i);
        return;
    }
    pthread_mutex_lock(&job_mu);
    pthread_mutex_lock(&pool.mu);
    int helpers = nthreads - 1;
    while (pool.nthreads < helpers) {
        if (pthread_create(&pool.th[pool.nthreads], NULL, worker, (void *)(intptr_t)pool.nthreads) != 0)
            break;
        pthread_detach(pool.th[pool.nthreads]);
        pool.nthreads++;
    }
    if (helpers > pool.nthreads)
        helpers = pool.nthreads;
    pool.fn = fn;
    pool.arg = arg;
    pool.n = n;
    atomic_store(&pool.next, 0);
    pool.want = helpers;
    pool.running = helpers;
    pool.gen++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    run_items(fn, arg, n); /* the caller works too */

    pthread_mutex_lock(&pool.mu);
    while (pool.running > 0)
        pthread_cond_wait(&pool.done, &pool.mu);
    pool.want = 0;
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&job_mu);
}
