/* The file reports of `kvverify run`: which reporters a run writes, into
 * which files (--json, --junit, --markdown, --html, --ratios, or all of them
 * into --report-dir). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oracle/oracle.h"
#include "tools/cli.h"

/* The file names --report-dir uses, one per format. */
static const struct {
    const char *file;
    int slot;
} dir_files[] = {
    {"results.jsonl", CLI_REP_JSON}, {"junit.xml", CLI_REP_JUNIT}, {"summary.md", CLI_REP_MARKDOWN},
    {"report.html", CLI_REP_HTML},   {"ratios.tsv", CLI_REP_RATIOS},
};

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
        r->rep[r->n] = make(i, r->file[i]);
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
    int rc = 0;
    for (int i = 0; i < r->n; i++)
        r->rep[i]->destroy(r->rep[i]);
    r->n = 0;
    for (int i = 0; i < CLI_REP_COUNT; i++) {
        if (r->file[i] && r->file[i] != stdout && fclose(r->file[i])) {
            fprintf(stderr, "kvverify: writing a report failed: %s\n", strerror(errno));
            rc = -1;
        }
        r->file[i] = NULL;
        free(r->owned[i]);
        r->owned[i] = NULL;
    }
    return rc;
}
