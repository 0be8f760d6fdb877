/* Guarded buffers for what a backend writes (oracle/guard.h).
 *
 * Default: the data is followed by KVV_GUARD_ZONE bytes of a fixed pattern
 * and preceded by a header; kvv_guard_check finds any pattern byte changed
 * (a backend that wrote past the end, however little) and a broken header
 * (one that wrote before the start).  The zone sits inside the allocation,
 * so an overrun up to its size changes nothing else: the verdict names the
 * buffer instead of a heap abort much later naming nothing.
 *
 * Page mode (`--guard`): the data ends exactly where a PROT_NONE page
 * begins, so the first byte read or written past the end faults at the
 * instruction that did it.  A SIGSEGV handler recognises the page, writes
 * which buffer it guards into the note area (shared with the runner, which
 * puts it in the crash verdict) and to stderr, and lets the signal kill the
 * process as it would have. */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "oracle/guard.h"

#define MAGIC 0x6b76766775617264ull /* "kvvguard" */
#define HEADER 64 /* before the data: the header, then LEAD pattern bytes */
#define LEAD 16

typedef struct {
    uint64_t magic;
    uint64_t n;        /* bytes of data */
    char *base;        /* start of the allocation */
    size_t len;        /* its length (page mode: the mapping, guard page included) */
    const char *what;  /* names the buffer in messages */
    int pages;         /* allocated in page mode */
} header;

static int page_mode;
static struct sigaction old_segv, old_bus; /* the handlers before ours */
static char *note_area;
static size_t note_len;

/* the pages that guard live buffers, for the fault handler */
#define MAX_GUARDS 64
static struct {
    char *page;
    const char *what;
    size_t n;
} guards[MAX_GUARDS];

static uint8_t pattern(size_t i) { return (uint8_t)(0xa5u ^ (i * 0x9du) ^ (i >> 8)); }

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/* ---- the fault handler: async-signal-safe, no stdio ---- */

static size_t put_str(char *buf, size_t at, size_t n, const char *s)
{
    while (*s && at + 1 < n)
        buf[at++] = *s++;
    return at;
}

static size_t put_num(char *buf, size_t at, size_t n, size_t v)
{
    char tmp[24];
    int k = 0;
    do
        tmp[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < 24);
    while (k && at + 1 < n)
        buf[at++] = tmp[--k];
    return at;
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    const char *addr = si->si_addr;
    const size_t ps = page_size();
    for (int i = 0; i < MAX_GUARDS; i++) {
        if (!guards[i].page || addr < guards[i].page || addr >= guards[i].page + ps)
            continue;
        int wrote = 0;
#if defined(__x86_64__) && defined(REG_ERR)
        wrote = ctx && (((ucontext_t *)ctx)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
        (void)ctx;
#endif
        char msg[256];
        size_t at = put_str(msg, 0, sizeof msg, wrote ? "backend wrote past " : "backend read past ");
        at = put_str(msg, at, sizeof msg, guards[i].what);
        at = put_str(msg, at, sizeof msg, " (byte ");
        at = put_num(msg, at, sizeof msg, (size_t)(addr - guards[i].page) + 1);
        at = put_str(msg, at, sizeof msg, " past the end of its ");
        at = put_num(msg, at, sizeof msg, guards[i].n);
        at = put_str(msg, at, sizeof msg, " bytes; --guard page)");
        msg[at] = 0;
        if (note_area) {
            size_t k = at < note_len - 1 ? at : note_len - 1;
            memcpy(note_area, msg, k);
            note_area[k] = 0;
        }
        ssize_t w = write(2, "kvverify: ", 10);
        w = write(2, msg, at);
        w = write(2, "\n", 1);
        (void)w;
        /* die of the signal: the access runs again, without a handler (a
         * sanitizer's would turn the signal into an exit status) */
        signal(sig, SIG_DFL);
        return;
    }
    /* not a guard page: the access runs again under the handler there was
     * before (the default, or a sanitizer's) */
    sigaction(sig, sig == SIGBUS ? &old_bus : &old_segv, NULL);
}

void kvv_guard_pages(int on)
{
    static int installed;
    page_mode = on;
    if (!on || installed)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    installed = 1;
}

void kvv_guard_note_area(char *area, size_t n)
{
    note_area = n ? area : NULL;
    note_len = n;
    if (note_area)
        note_area[0] = 0;
}

/* ---- allocation ---- */

void *kvv_guard_alloc(size_t n, const char *what)
{
    if (n > SIZE_MAX / 2)
        return NULL;
    char *base, *data;
    size_t len;
    if (page_mode) {
        const size_t ps = page_size(), body = (n + HEADER + ps - 1) / ps * ps;
        len = body + ps;
        base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            return NULL;
        if (mprotect(base + body, ps, PROT_NONE)) {
            munmap(base, len);
            return NULL;
        }
        data = base + body - n; /* ends where the guard page starts */
        for (int i = 0; i < MAX_GUARDS; i++)
            if (!guards[i].page) {
                guards[i].page = base + body;
                guards[i].what = what;
                guards[i].n = n;
                break;
            }
    } else {
        len = (HEADER + n + KVV_GUARD_ZONE + 63) & ~(size_t)63;
        base = aligned_alloc(64, len);
        if (!base)
            return NULL;
        data = base + HEADER;
        memset(data, 0, n);
        for (size_t i = 0; i < KVV_GUARD_ZONE; i++)
            ((uint8_t *)data)[n + i] = pattern(i);
    }
    header h = {MAGIC, n, base, len, what, page_mode};
    memcpy(data - HEADER, &h, sizeof h);
    for (size_t i = 0; i < LEAD; i++)
        ((uint8_t *)data)[(ptrdiff_t)i - LEAD] = pattern(i);
    return data;
}

int kvv_guard_check(const void *p, size_t *past, size_t *before)
{
    *past = *before = 0;
    if (!p)
        return 0;
    header h;
    memcpy(&h, (const char *)p - HEADER, sizeof h);
    if (h.magic != MAGIC) {
        *before = HEADER; /* the header in front of the data is broken */
        return -1;
    }
    for (size_t i = 0; i < LEAD; i++)
        if (((const uint8_t *)p)[(ptrdiff_t)i - LEAD] != pattern(i)) {
            *before = LEAD - i;
            return -1;
        }
    if (h.pages)
        return 0; /* the guard page would have stopped it */
    const uint8_t *zone = (const uint8_t *)p + h.n;
    for (size_t i = KVV_GUARD_ZONE; i > 0; i--)
        if (zone[i - 1] != pattern(i - 1)) {
            *past = i;
            return -1;
        }
    return 0;
}

void kvv_guard_free(void *p)
{
    if (!p)
        return;
    header h;
    memcpy(&h, (char *)p - HEADER, sizeof h);
    if (h.magic != MAGIC)
        return; /* written over by a backend: leaked rather than freed wrongly */
    if (h.pages) {
        const size_t ps = page_size();
        for (int i = 0; i < MAX_GUARDS; i++)
            if (guards[i].page == h.base + h.len - ps)
                guards[i].page = NULL;
        munmap(h.base, h.len);
    } else {
        free(h.base);
    }
}

/* The same zones for the buffers a backend writes in a model run (the ppl
 * cases and `kvverify ppl`: model/forward_run.c). */
static int model_check(const void *p, size_t n, const char *what, char *why, size_t len)
{
    size_t past, before;
    if (kvv_guard_check(p, &past, &before) == 0)
        return 0;
    if (past)
        snprintf(why, len, "backend wrote %zu bytes past %s (a buffer of %zu bytes)", past, what, n);
    else
        snprintf(why, len, "backend wrote before the start of %s (a buffer of %zu bytes)", what, n);
    return -1;
}

const kvv_model_buffers kvv_guarded_buffers = {kvv_guard_alloc, model_check, kvv_guard_free};
