/* The terminal reporter: the progress line on a TTY (a pseudo-terminal of a
 * known width) with the case last finished and the time left, none when the
 * output is not a terminal; the skip reasons at the end of a run. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "reports/reports.h"
#include "tests/harness.h"

static const char *const names[] = {
    "attn/d256/q8_0-turbo3/nq1/nkv256/h8/gqa4/cache=on/dist=outlier/seed=7",
    "attn/d128/f16-f16/nq1/nkv256/h8/gqa4/dist=gauss/seed=8",
    "quant/q4_0/d128/rows32/dist=gauss/seed=9",
    "quant/q4_1/d128/rows32/dist=gauss/seed=10",
};
#define NNAMES 4

static kvv_run_info run_info(int ncases)
{
    kvv_run_info info = {"0.1.0", "abc", "test machine", "2026-01-01T00:00:00Z", "", 1, {"cpu"}, ncases, 0};
    return info;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Drives a terminal reporter; verdict i of n: reasons[i] (skip) or a pass. */
static void drive(kvv_reporter *r, const kvv_run_info *info, int n, const char *const *reasons, int declined,
                  int pause_ms)
{
    kvv_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.nbackends = 1;
    r->begin(r, info);
    for (int i = 0; i < n; i++) {
        kvv_case c;
        char why[200];
        CU_ASSERT_FATAL(kvv_case_parse(names[i % NNAMES], &c, why, sizeof why) == 0);
        kvv_verdict v;
        memset(&v, 0, sizeof v);
        v.arith_ratio = v.budget_ratio = 0.5;
        if (reasons && reasons[i]) {
            v.status = declined ? KVV_FAIL : KVV_SKIP;
            v.rule = declined ? KVV_RULE_DECLINED : KVV_RULE_NONE;
            snprintf(v.detail, sizeof v.detail, "%s", reasons[i]);
        }
        kvv_summary_add(&sum, c.op, 0, &v);
        if (pause_ms)
            sleep_ms(pause_ms);
        r->result(r, &c, names[i % NNAMES], 0, &v);
    }
    r->end(r, &sum);
    r->destroy(r);
}

static void test_progress_tty(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    CU_ASSERT_FATAL(master >= 0);
    CU_ASSERT_FATAL(grantpt(master) == 0 && unlockpt(master) == 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    CU_ASSERT_FATAL(slave >= 0);
    struct winsize ws = {.ws_row = 24, .ws_col = 90};
    CU_ASSERT(ioctl(slave, TIOCSWINSZ, &ws) == 0);
    FILE *f = fdopen(slave, "w");
    CU_ASSERT_FATAL(f != NULL);
    kvv_reporter *r = kvv_reporter_terminal(f, 0);
    CU_ASSERT_FATAL(r != NULL);
    kvv_run_info info = run_info(4);
    /* 120 ms between verdicts: the line is redrawn for each (at most every 0.1 s) */
    drive(r, &info, 4, NULL, 0, 120);
    fclose(f);
    char buf[16384];
    size_t have = 0;
    fcntl(master, F_SETFL, O_NONBLOCK);
    for (ssize_t k; have < sizeof buf - 1 && (k = read(master, buf + have, sizeof buf - 1 - have)) > 0;)
        have += (size_t)k;
    buf[have] = 0;
    close(master);
    /* each progress line: the counts, an estimate, the case, within 89 columns */
    int lines = 0;
    for (char *p = strstr(buf, "\r["); p; p = strstr(p + 1, "\r[")) {
        char *e = strstr(p, "\033[K");
        CU_ASSERT_FATAL(e != NULL);
        int len = (int)(e - p - 1);
        CU_ASSERT(len <= 89);
        lines++;
        if (lines == 1) { /* after the first of 4: 3 left at the pace of one per 0.12 s */
            const char *eta = "\r[#####...............] 1/4  fail 0  skip 0  ETA ";
            CU_ASSERT(!strncmp(p, eta, strlen(eta)));
            char *sec = p + strlen(eta); /* a few seconds, however slow the machine */
            CU_ASSERT(*sec >= '1' && *sec <= '9');
            CU_ASSERT(strstr(sec, "s  attn/d256/q8_0-turbo3/nq1") == strchr(sec, 's'));
            CU_ASSERT(strncmp(e - 3, "...", 3) == 0); /* the name cut to fit */
        }
    }
    if (lines < 4 || getenv("KVV_SHOW"))
        fprintf(stderr, "\n%s\n", buf);
    CU_ASSERT(lines >= 4);
    CU_ASSERT(strstr(buf, "] 4/4  fail 0  skip 0  ETA --  quant/q4_1/d128") != NULL);
    CU_ASSERT(strstr(buf, "4 checks: 4 passed, 0 failed, 0 skipped") != NULL);
}

static char *run_to_memory(int n, const char *const *reasons, int declined)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(f != NULL);
    kvv_reporter *r = kvv_reporter_terminal(f, 0);
    kvv_run_info info = run_info(n);
    drive(r, &info, n, reasons, declined, 0);
    fclose(f);
    return buf;
}

static void test_no_progress_off_tty(void)
{
    char *out = run_to_memory(4, NULL, 0);
    CU_ASSERT(strchr(out, '\r') == NULL && strstr(out, "ETA") == NULL);
    CU_ASSERT(strstr(out, "by reason") == NULL); /* nothing skipped: no reasons */
    free(out);
}

static void test_skip_reasons(void)
{
    static const char *const r1[] = {"backend declined: no q4_0", NULL, "backend declined: no q4_0",
                                     "backend declined: toggle isa", "backend declined: no q4_0"};
    char *out = run_to_memory(5, r1, 0);
    CU_ASSERT(strstr(out, "\nSkipped, by reason (4 cases):\n"
                          "       3  cpu  backend declined: no q4_0\n"
                          "       1  cpu  backend declined: toggle isa\n") != NULL);
    free(out);
    /* under --strict the same reasons are declines that failed */
    out = run_to_memory(5, r1, 1);
    CU_ASSERT(strstr(out, "5 checks: 1 passed, 4 failed, 0 skipped") != NULL);
    CU_ASSERT(strstr(out, "4 of the failures are declines, which --strict counts as failures") != NULL);
    CU_ASSERT(strstr(out, "\nDeclined (failures under --strict), by reason (4 cases):\n"
                          "       3  cpu  backend declined: no q4_0\n") != NULL);
    free(out);
    /* many reasons: the 10 most frequent, then how many more */
    static char text[13][32];
    const char *r2[14];
    for (int i = 0; i < 13; i++) {
        snprintf(text[i], sizeof text[i], "reason %02d", i);
        r2[i] = text[i];
    }
    r2[13] = text[12]; /* reason 12 twice: first */
    out = run_to_memory(14, r2, 0);
    CU_ASSERT(strstr(out, "(14 cases):\n       2  cpu  reason 12\n       1  cpu  reason 00\n") != NULL);
    CU_ASSERT(strstr(out, "reason 08\n     ... 3 more reasons (3 cases)") != NULL);
    free(out);
}

void kvv_register_tests(void)
{
    static const kvv_test t[] = {{"progress line on a terminal: case, ETA, width", test_progress_tty},
                                 {"no progress line off a terminal", test_no_progress_off_tty},
                                 {"skip reasons and --strict declines at the end", test_skip_reasons},
                                 {NULL, NULL}};
    kvv_add_suite("terminal reporter", t);
}
