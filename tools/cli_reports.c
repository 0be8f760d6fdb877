/* The file reports of `kvverify run`: which reporters a run writes, into
 * which files (--json, --junit, --markdown, --html, --ratios, or all of them
 * into --report-dir), and whether every byte of them reached the file: each
 * reporter is wrapped in one that watches its stream, so that a report that
 * could not be written (a full disk) is said as soon as it happens and fails
 * the run at the end, naming the file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oracle/run.h"
#include "oracle/verdict.h"
#include "tools/cli.h"

/* The file names --report-dir uses, one per format. */
static const struct {
    const char *file;
    int slot;
} dir_files[] = {
    {"results.jsonl", CLI_REP_JSON}, {"junit.xml", CLI_REP_JUNIT}, {"summary.md", CLI_REP_MARKDOWN},
    {"report.html", CLI_REP_HTML},   {"ratios.tsv", CLI_REP_RATIOS},
};

static const char *const format_names[CLI_REP_COUNT] = {"JSON", "JUnit", "Markdown", "HTML", "ratio"};

static kvv_reporter *make(int slot, FILE *f)
{
    switch (slot) {
    case CLI_REP_JSON: return kvv_reporter_json(f);
    case CLI_REP_JUNIT: return kvv_reporter_junit(f);
    case CLI_REP_MARKDOWN: return kvv_reporter_markdown(f);
    case CLI_REP_HTML: {
        kvv_html_opts o = {kvv_case_input_stats, 0, KVV_ARITH_THRESHOLD, KVV_BUDGET_THRESHOLD};
        return kvv_reporter_html(f, &o);
    }
    case CLI_REP_RATIOS: return kvv_reporter_ratios(f);
    default: return NULL;
    }
}

/* ---- the watching wrapper ---- */

typedef struct {
    kvv_reporter *inner;
    int slot;
    int err; /* errno of the first failed write, 0 while none */
    const char *path;
} watch_state;

static const char *shown_path(const char *path) { return strcmp(path, "-") ? path : "standard output"; }

/* After each call into the reporter: a stream in error has lost bytes.  The
 * reporters end each call with fflush, so errno is still that write's. */
static void watch(kvv_reporter *r, int running)
{
    watch_state *w = r->state;
    if (w->err || !ferror(r->out))
        return;
    w->err = errno ? errno : EIO;
    if (running) /* at the end, cli_reports_close says it */
        fprintf(stderr, "kvverify: writing the %s report to %s failed: %s (the run goes on; it will exit 2)\n",
            format_names[w->slot], shown_path(w->path), strerror(w->err));
}

static void w_begin(kvv_reporter *r, const kvv_run_info *info)
{
    watch_state *w = r->state;
    r->info = info;
    errno = 0;
    w->inner->begin(w->inner, info);
    watch(r, 1);
}

static void w_result(kvv_reporter *r, const kvv_case *c, const char *name, int backend, const kvv_verdict *v)
{
    watch_state *w = r->state;
    errno = 0;
    w->inner->result(w->inner, c, name, backend, v);
    watch(r, 1);
}

static void w_end(kvv_reporter *r, const kvv_summary *s)
{
    watch_state *w = r->state;
    errno = 0;
    w->inner->end(w->inner, s);
    watch(r, 0);
}

static void w_destroy(kvv_reporter *r)
{
    watch_state *w = r->state;
    w->inner->destroy(w->inner);
    free(w);
    free(r);
}

static kvv_reporter *watched(int slot, FILE *f, const char *path)
{
    kvv_reporter *r = calloc(1, sizeof *r);
    watch_state *w = calloc(1, sizeof *w);
    if (r && w)
        w->inner = make(slot, f);
    if (!r || !w || !w->inner) {
        free(r);
        free(w);
        return NULL;
    }
    w->slot = slot;
    w->path = path;
    r->out = f;
    r->state = w;
    r->begin = w_begin;
    r->result = w_result;
    r->end = w_end;
    r->destroy = w_destroy;
    return r;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
}

int cli_reports_open(cli_reports *r)
{
    char path[1200];
    const char *paths[CLI_REP_COUNT];
    memcpy(paths, r->path, sizeof paths);
    if (r->dir) {
        if (make_dirs(r->dir)) {
            fprintf(stderr, "kvverify: cannot create report directory %s: %s\n", r->dir, strerror(errno));
            return -1;
        }
        for (size_t i = 0; i < sizeof dir_files / sizeof *dir_files; i++)
            if (!paths[dir_files[i].slot]) {
                snprintf(path, sizeof path, "%s/%s", r->dir, dir_files[i].file);
                r->owned[dir_files[i].slot] = strdup(path);
                paths[dir_files[i].slot] = r->owned[dir_files[i].slot];
            }
    }
    for (int i = 0; i < CLI_REP_COUNT; i++) {
        if (!paths[i])
            continue;
        r->to_stdout |= !strcmp(paths[i], "-");
        r->file[i] = strcmp(paths[i], "-") ? fopen(paths[i], "w") : stdout;
        if (!r->file[i]) {
            fprintf(stderr, "kvverify: cannot write %s: %s\n", paths[i], strerror(errno));
            cli_reports_close(r);
            return -1;
        }
        r->rep[r->n] = watched(i, r->file[i], paths[i]);
        if (!r->rep[r->n]) {
            fprintf(stderr, "kvverify: out of memory\n");
            cli_reports_close(r);
            return -1;
        }
        r->n++;
    }
    return 0;
}

int cli_reports_close(cli_reports *r)
{
    int rc = 0, err[CLI_REP_COUNT] = {0};
    const char *path[CLI_REP_COUNT] = {0};
    for (int i = 0; i < r->n; i++) {
        const watch_state *w = r->rep[i]->state;
        err[w->slot] = w->err;
        path[w->slot] = w->path;
        r->rep[i]->destroy(r->rep[i]);
    }
    r->n = 0;
    for (int i = 0; i < CLI_REP_COUNT; i++) {
        FILE *f = r->file[i];
        if (f) {
            /* what is still buffered, and the close itself, can fail too */
            errno = 0;
            if ((fflush(f) || ferror(f)) && !err[i])
                err[i] = errno ? errno : EIO;
            if (f != stdout && fclose(f) && !err[i])
                err[i] = errno ? errno : EIO;
            if (err[i]) {
                fprintf(stderr, "kvverify: the %s report %s is incomplete: %s\n", format_names[i],
                        path[i] ? shown_path(path[i]) : "(unnamed)", strerror(err[i]));
                rc = -1;
            }
        }
        r->file[i] = NULL;
        free(r->owned[i]);
        r->owned[i] = NULL;
    }
    return rc;
}
