/* The HTML report: generated from a real run (the runner, the oracle, the
 * CPU backend and a backend with planted defects), checked as text, then
 * rendered in headless Chromium: the DOM must hold the heatmap cells and
 * the failure sections, and the screenshot must show the page (a PNG of the
 * window size that is not blank and shows the heatmap's colors). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/cases.h"
#include "oracle/run.h"
#include "oracle/verdict.h"
#include "tests/png_read.h"
#include "tests/harness.h"

/* ---------------- a backend with planted defects ---------------- */

/* The CPU backend with the faults of tests/harness/defect.h: attention at
 * head dim 256 is off by 50% (plus 1) in one output value (an arith failure
 * at a known element); at head dim 128, q8_0/turbo3 writes NaN everywhere (a
 * finite failure without a ratio) and turbo3/q4_0 fails (KVV_FAILED: a
 * crash without a ratio); at head dim 64, q8_0/q8_0 is declined (a skip);
 * and quantizing 16 rows of 64 values as q4_0 flips a low bit of the first
 * index byte (a bytes failure). */
static const kvv_plant planted_faults[] = {{"skew_output", "attn/d256/*"},
                                           {"nan_all", "attn/d128/q8_0-turbo3/*"},
                                           {"crash", "attn/d128/turbo3-q4_0/*"},
                                           {"decline", "attn/d64/q8_0-q8_0/*"},
                                           {"flip_bit", "quant/q4_0/d64/rows16"}};

/* ---------------- the run ---------------- */

static const char *const pair_types[] = {"f16-f16", "q8_0-q8_0", "q8_0-turbo3", "turbo3-q4_0"};
#define NPAIRS 4
static const int head_dims[] = {64, 128, 256};
#define NHEADS 3

static int make_cases(kvv_case_list *l)
{
    for (int p = 0; p < NPAIRS; p++)
        for (int h = 0; h < NHEADS; h++) {
            kvv_case c = kvv_case_named("attn/d%d/%s/nq2/nkv64/h4/gqa2/mask=causal/dist=%s/seed=%d", head_dims[h],
                                        pair_types[p], p % 2 ? "outlier" : "gauss", 40 + p * NHEADS + h);
            kvv_case_list_push(l, &c);
        }
    kvv_case q = kvv_case_named("quant/q4_0/d64/rows16/dist=gauss/seed=3");
    kvv_case_list_push(l, &q);
    return l->n;
}

typedef struct {
    char dir[64], html[128];
    int ncases, nfail;
} html_run;

static html_run run_report(void)
{
    html_run hr;
    memset(&hr, 0, sizeof hr);
    snprintf(hr.dir, sizeof hr.dir, "/tmp/kvv_html_XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(hr.dir) != NULL);
    snprintf(hr.html, sizeof hr.html, "%s/report.html", hr.dir);
    kvv_backend *defective =
        kvv_defect_backend("planted", planted_faults, sizeof planted_faults / sizeof *planted_faults);
    const kvv_backend *tables[2] = {kvv_cpu_backend(), defective};
    const char *names[2] = {"cpu", "planted"};
    kvv_case_list l = {0};
    hr.ncases = make_cases(&l);
    kvv_run_info info = {"test", "0000", "test machine", "2026-01-01T00:00:00Z", "test_html_report", 2,
                         {"cpu", "planted"}, l.n, 0};
    FILE *f = fopen(hr.html, "w");
    CU_ASSERT_FATAL(f != NULL);
    kvv_html_opts ho = {kvv_case_input_stats, 0, KVV_ARITH_THRESHOLD, KVV_BUDGET_THRESHOLD};
    kvv_reporter *r = kvv_reporter_html(f, &ho);
    kvv_run_opts o = {.backend_names = names, .nbackends = 2, .backends = tables, .cases = l.items, .ncases = l.n,
                      .reporters = &r, .nreporters = 1, .jobs = 0, .timeout = 60, .info = &info};
    kvv_summary s;
    hr.nfail = kvv_run(&o, &s);
    kvv_defect_free(defective);
    r->destroy(r);
    fclose(f);
    kvv_case_list_free(&l);
    return hr;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    return b;
}

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* KVV_KEEP_REPORT=1 keeps the report (and the screenshot) for a person to look at. */
static void cleanup(const html_run *hr)
{
    if (getenv("KVV_KEEP_REPORT")) {
        fprintf(stderr, "\n  kept %s\n", hr->dir);
        return;
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", hr->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", hr->dir);
}

/* The cells of the planted backend that fail, and the one skipped. */
static const char *const fail_cells[] = {
    "planted|attn|d256|f16/f16",   "planted|attn|d256|q8_0/q8_0", "planted|attn|d256|q8_0/turbo3",
    "planted|attn|d256|turbo3/q4_0", "planted|attn|d128|q8_0/turbo3", "planted|attn|d128|turbo3/q4_0",
    "planted|quant|d64|q4_0"};
#define NFAIL_CELLS 7
static const char skip_cell[] = "planted|attn|d64|q8_0/q8_0";

/* The text of the cell whose data-cell is `cell` (its tag to its end). */
static int cell_tag(const char *page, const char *cell, char *out, size_t n)
{
    char key[128];
    snprintf(key, sizeof key, "data-cell=\"%s\"", cell);
    const char *p = strstr(page, key);
    if (!p)
        return -1;
    const char *b = p;
    while (b > page && strncmp(b, "<td", 3))
        b--;
    const char *e = strstr(p, "</td>");
    if (!e)
        return -1;
    snprintf(out, n, "%.*s", (int)(e - b), b);
    return 0;
}

/* What the page must hold, as text or as the DOM Chromium built from it. */
static void check_page(const char *page, int nfail)
{
    /* 2 backends x (4 pairs x 3 head dims + the q4_0 quantize cell) */
    CU_ASSERT_EQUAL(count(page, "data-cell=\""), 2 * (NPAIRS * NHEADS + 1));
    /* K x V grids: a table per backend and head dim, and one for quantize */
    CU_ASSERT_EQUAL(count(page, "<table class=\"map kv\">"), 2 * NHEADS);
    CU_ASSERT_EQUAL(count(page, "<caption>d128 <span class=\"n\">(4 cases)</span></caption>"), 2);
    /* failures: red cells, each showing its own figure, never a ratio of 0 */
    CU_ASSERT_EQUAL(count(page, "data-status=\"fail\""), NFAIL_CELLS);
    CU_ASSERT_EQUAL(count(page, "<td class=\"c f\""), NFAIL_CELLS);
    for (int i = 0; i < NFAIL_CELLS; i++) {
        char tag[4096];
        CU_ASSERT_FATAL(cell_tag(page, fail_cells[i], tag, sizeof tag) == 0);
        CU_ASSERT(!strncmp(tag, "<td class=\"c f\"", 15));
        const char *fig = strrchr(tag, '>'); /* ">FIGURE</a" */
        const char *a = strstr(tag, "<a href=\"#f");
        CU_ASSERT_FATAL(a != NULL && fig != NULL);
        const char *t = strchr(a, '>') + 1;
        if (!strncmp(t, "&#x2715;&#xa0;", 14)) /* as written */
            t += 14;
        else if (!strncmp(t, "\xe2\x9c\x95&nbsp;", 9)) /* as Chromium serializes it */
            t += 9;
        else {
            CU_FAIL("a failing cell without the failure mark");
        }
        char figure[32];
        snprintf(figure, sizeof figure, "%.*s", (int)strcspn(t, "<"), t);
        if (i < 4) {
            CU_ASSERT(strtod(figure, NULL) > 1.0); /* the arith ratio of the planted element */
        } else {
            CU_ASSERT_STRING_EQUAL(figure, i == 4 ? "finite" : i == 5 ? "crash" : "bytes");
        }
        CU_ASSERT(strcmp(figure, "0") && strcmp(figure, "nan") && strcmp(figure, "-"));
    }
    /* the decline: a grey cell */
    char tag[4096];
    CU_ASSERT_FATAL(cell_tag(page, skip_cell, tag, sizeof tag) == 0);
    CU_ASSERT(!strncmp(tag, "<td class=\"c s\"", 15) && strstr(tag, ">skip") != NULL);
    CU_ASSERT_EQUAL(count(page, "data-status=\"skip\""), 1);
    CU_ASSERT(strstr(page, "backend declined") != NULL); /* the reason, in the skip table */
    /* a passing attention cell carries both ratios */
    CU_ASSERT_FATAL(cell_tag(page, "cpu|attn|d256|q8_0/turbo3", tag, sizeof tag) == 0);
    CU_ASSERT(strstr(tag, "--ca:hsl(") && strstr(tag, "--cb:hsl(") && strstr(tag, "<span class=\"ra\">") &&
              strstr(tag, "<span class=\"rb\">"));
    for (int k = 1; k <= nfail; k++) {
        char id[32];
        snprintf(id, sizeof id, "id=\"f%d\"", k);
        CU_ASSERT(strstr(page, id) != NULL);
    }
    CU_ASSERT(strstr(page, "<pre class=\"name\" id=\"n1\">attn/d256/f16-f16/nq2/nkv64/h4/gqa2/mask=causal/"
                           "dist=gauss/seed=42</pre>") != NULL);
    /* the plots: arith and budget histograms per backend (no ppl case), the
     * failures among them; the time of each op and backend */
    CU_ASSERT_EQUAL(count(page, "<svg class=\"hist\""), 4);
    CU_ASSERT(strstr(page, "<svg class=\"hist\" data-rule=\"arith\" data-n=\"12\" data-fail=\"0\"") != NULL);
    /* planted: 12 attention cases less the skip, the crash and the NaN output */
    CU_ASSERT(strstr(page, "<svg class=\"hist\" data-rule=\"arith\" data-n=\"9\" data-fail=\"4\"") != NULL);
    CU_ASSERT(strstr(page, "<svg class=\"hist\" data-rule=\"budget\" data-n=\"9\" data-fail=\"4\"") != NULL);
    CU_ASSERT(strstr(page, "<svg class=\"times\" data-rows=\"4\"") != NULL);
}

static void test_html_text(void)
{
    html_run hr = run_report();
    CU_ASSERT_EQUAL(hr.nfail, NPAIRS + 3);
    char *page = slurp(hr.html);
    CU_ASSERT_FATAL(page != NULL);
    check_page(page, hr.nfail);
    /* self-contained: nothing to fetch */
    CU_ASSERT(strstr(page, "http://") == NULL && strstr(page, "https://") == NULL);
    CU_ASSERT(strstr(page, "<link") == NULL && strstr(page, "src=") == NULL && strstr(page, "url(") == NULL);
    /* a failure page: rule, figure, the planted element, the inputs' statistics */
    CU_ASSERT(strstr(page, "<h3>Failure 1: arith ratio ") != NULL);
    CU_ASSERT(strstr(page, "<th>|error|</th><th>bound</th><th>ratio</th>") != NULL);
    CU_ASSERT(strstr(page, "<tr><td>1</td><td>3</td>") != NULL);
    CU_ASSERT_EQUAL(count(page, "<table class=\"stats\">"), hr.nfail);
    CU_ASSERT(strstr(page, "<tr><td class=\"l\">Q</td><td>2048</td>") != NULL);  /* 4 heads x 2 rows x 256 */
    CU_ASSERT(strstr(page, "<tr><td class=\"l\">X</td><td>1024</td>") != NULL);  /* 16 rows x 64 */
    /* the bytes failure shows bytes */
    CU_ASSERT(strstr(page, "<th>byte</th>") != NULL);
    CU_ASSERT(strstr(page, "<td>0</td><td>2</td><td>0x") != NULL);
    CU_ASSERT(strstr(page, "</html>\n") != NULL);
    /* the crash has no ratio, and its page says so */
    CU_ASSERT(strstr(page, "<dt>arith ratio</dt><dd>none (not measured)</dd>") != NULL);
    CU_ASSERT(strstr(page, "<script") == NULL);
    free(page);
    cleanup(&hr);
}

/* The input statistics the failure pages show, on inputs of known shape. */
static void test_input_stats(void)
{
    kvv_case c = kvv_case_default(KVV_OP_QUANT);
    c.type_k = c.type_v = KVV_Q8_0;
    c.dk = c.dv = 128;
    c.n_kv = 256;
    kvv_input_stats s;
    c.dist = KVV_DIST_GAUSS;
    CU_ASSERT_FATAL(kvv_case_input_stats(&c, &s) == 0);
    CU_ASSERT_EQUAL(s.n, 1);
    CU_ASSERT_EQUAL(s.t[0].n, 256 * 128);
    CU_ASSERT(fabs(s.t[0].mean) < 0.02 && fabs(s.t[0].rms - 1.0) < 0.02);
    CU_ASSERT(s.t[0].max_abs > 3.0 && s.t[0].max_abs < 6.0);
    CU_ASSERT(s.t[0].outlier_frac < 1e-4);
    c.dist = KVV_DIST_OUTLIER;
    CU_ASSERT_FATAL(kvv_case_input_stats(&c, &s) == 0);
    CU_ASSERT(s.t[0].outlier_frac > 0.005);
    CU_ASSERT(s.t[0].max_abs > 10.0);
    c.dist = KVV_DIST_ZERO;
    CU_ASSERT_FATAL(kvv_case_input_stats(&c, &s) == 0);
    CU_ASSERT(s.t[0].rms == 0 && s.t[0].max_abs == 0 && s.t[0].outlier_frac == 0);
    c.dist = KVV_DIST_NONFINITE;
    CU_ASSERT_FATAL(kvv_case_input_stats(&c, &s) == 0);
    CU_ASSERT(s.t[0].nonfinite > 0 && isfinite(s.t[0].rms));
    kvv_case a = kvv_case_default(KVV_OP_ATTN);
    a.dk = 128;
    a.dv = 64;
    a.n_q = 3;
    a.n_kv = 10;
    a.n_head = 4;
    a.n_head_kv = 2;
    CU_ASSERT_FATAL(kvv_case_input_stats(&a, &s) == 0);
    CU_ASSERT_EQUAL(s.n, 3);
    CU_ASSERT_STRING_EQUAL(s.t[2].name, "V");
    CU_ASSERT_EQUAL(s.t[0].n, 4 * 3 * 128);
    CU_ASSERT_EQUAL(s.t[1].n, 2 * 10 * 128);
    CU_ASSERT_EQUAL(s.t[2].n, 2 * 10 * 64);
    a.dk = 0;
    CU_ASSERT(kvv_case_input_stats(&a, &s) == -1);
}

/* ---------------- Chromium ---------------- */

static const char *find_chromium(void)
{
    static char found[256];
    const char *env = getenv("KVV_CHROMIUM");
    if (env && *env)
        return env;
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome", "chrome", NULL};
    for (int i = 0; names[i]; i++) {
        if (kvv_have_command(names[i])) {
            snprintf(found, sizeof found, "%s", names[i]);
            return found;
        }
    }
    return NULL;
}

/* Headless Chromium with everything that could reach the network or leave
 * state behind switched off. */
static int chromium(const char *exe, const char *dir, const char *what, const char *url, const char *redirect)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "timeout 60 %s --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync --disable-extensions "
             "--hide-scrollbars --user-data-dir=%s/profile %s %s %s 2>%s/chromium.log",
             exe, dir, what, url, redirect, dir);
    return system(cmd);
}

static const char probe_script[] =
    "<script>\n"
    "var out = [];\n"
    "function dump(tag) {\n"
    "  document.querySelectorAll('td.c').forEach(function (td) {\n"
    "    out.push([tag, td.dataset.cell, td.dataset.status, getComputedStyle(td).backgroundColor,\n"
    "              td.innerText.replace(/\\u00a0/g, ' ')].join('\\t'));\n"
    "  });\n"
    "}\n"
    "dump('budget');\n"
    "document.getElementById('show-arith').checked = true;\n"
    "dump('arith');\n"
    "var pre = document.createElement('pre');\n"
    "pre.id = 'computed';\n"
    "pre.textContent = '\\n' + out.join('\\n') + '\\n';\n"
    "document.body.appendChild(pre);\n"
    "</script>\n";

static int parse_rgb(const char *s, int *r, int *g, int *b)
{
    return sscanf(s, "rgb(%d, %d, %d)", r, g, b) == 3 ? 0 : -1;
}

static void check_computed(const char *exe, const html_run *hr)
{
    char probe[256], dom[256], url[300], redirect[300];
    snprintf(probe, sizeof probe, "%s/probe.html", hr->dir);
    snprintf(dom, sizeof dom, "%s/probe-dom.html", hr->dir);
    char *page = slurp(hr->html);
    CU_ASSERT_FATAL(page != NULL);
    char *end = strstr(page, "</body>");
    CU_ASSERT_FATAL(end != NULL);
    FILE *f = fopen(probe, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "%.*s%s%s", (int)(end - page), page, probe_script, end);
    fclose(f);
    free(page);
    snprintf(url, sizeof url, "file://%s", probe);
    snprintf(redirect, sizeof redirect, "> %s", dom);
    CU_ASSERT(chromium(exe, hr->dir, "--dump-dom", url, redirect) == 0);
    char *d = slurp(dom);
    CU_ASSERT_FATAL(d != NULL);
    char *list = strstr(d, "<pre id=\"computed\">");
    CU_ASSERT_FATAL(list != NULL);
    /* lines of choice, cell, status, background, text: every cell under
     * the budget choice, then the same cells under the arith choice */
    enum { MAXL = 256 };
    static char *fld[MAXL][5];
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(strchr(list, '>') + 1, "\n", &save); line && strncmp(line, "</pre>", 6);
         line = strtok_r(NULL, "\n", &save)) {
        CU_ASSERT_FATAL(n < MAXL);
        int k = 0;
        for (char *q = line; q && k < 5; k++) {
            fld[n][k] = q;
            q = strchr(q, '\t');
            if (q)
                *q++ = 0;
        }
        CU_ASSERT_FATAL(k == 5);
        n++;
    }
    int nfail = 0, nskip = 0, npass = 0, color_changed = 0, text_changed = 0;
    for (int i = 0; i < n; i++) {
        char **f = fld[i];
        int r, g, b;
        CU_ASSERT_FATAL(parse_rgb(f[3], &r, &g, &b) == 0);
        if (!strcmp(f[2], "fail")) {
            nfail++;
            CU_ASSERT(r == 211 && g == 47 && b == 47); /* red, whatever the ratios */
            CU_ASSERT(!strncmp(f[4], "\xe2\x9c\x95 ", 4) && strcmp(f[4] + 4, "0") && strcmp(f[4] + 4, "nan"));
        } else if (!strcmp(f[2], "skip")) {
            nskip++;
            CU_ASSERT(r == 208 && g == 208 && b == 208); /* grey */
            CU_ASSERT_STRING_EQUAL(f[4], "skip");
        } else {
            npass++;
            /* green to orange: never red, never without a color, no failure mark */
            CU_ASSERT(g > 120 && !(r == 255 && g == 255 && b == 255) && strcmp(f[3], "rgba(0, 0, 0, 0)"));
            CU_ASSERT(strstr(f[4], "\xe2\x9c\x95") == NULL);
            /* the picker switches the attention cells' color and figure */
            if (i >= n / 2 && strstr(f[1], "|attn|")) {
                char **was = fld[i - n / 2];
                CU_ASSERT(!strcmp(was[0], "budget") && !strcmp(f[0], "arith") && !strcmp(was[1], f[1]));
                color_changed |= strcmp(was[3], f[3]) != 0;
                text_changed |= strcmp(was[4], f[4]) != 0;
            }
        }
    }
    /* every cell twice (one per choice of the picker) */
    CU_ASSERT_EQUAL(n % 2, 0);
    CU_ASSERT_EQUAL(nfail, 2 * NFAIL_CELLS);
    CU_ASSERT_EQUAL(nskip, 2);
    CU_ASSERT_EQUAL(npass, 2 * (2 * (NPAIRS * NHEADS + 1) - NFAIL_CELLS - 1));
    CU_ASSERT(color_changed);
    CU_ASSERT(text_changed);
    free(d);
}

static void test_html_in_chromium(void)
{
    const char *exe = find_chromium();
    if (!exe)
        KVV_SKIP("chromium not found (install the Debian package 'chromium', listed in ci/deps.txt, or set "
                 "KVV_CHROMIUM)");
    html_run hr = run_report();
    char url[256], dom[256], png[256], redirect[300];
    snprintf(url, sizeof url, "file://%s", hr.html);
    snprintf(dom, sizeof dom, "%s/dom.html", hr.dir);
    snprintf(png, sizeof png, "%s/shot.png", hr.dir);

    /* the DOM as the browser parsed it */
    snprintf(redirect, sizeof redirect, "> %s", dom);
    CU_ASSERT(chromium(exe, hr.dir, "--dump-dom", url, redirect) == 0);
    char *page = slurp(dom);
    CU_ASSERT_FATAL(page != NULL);
    check_page(page, hr.nfail);
    free(page);

    /* the colors as the browser computed them: a copy of the page with a
     * script (the report itself has none) that lists every cell's
     * background and text, under each choice of the ratio picker */
    check_computed(exe, &hr);

    /* the rendering */
    char shot[300];
    snprintf(shot, sizeof shot, "--window-size=1280,1600 --screenshot=%s", png);
    CU_ASSERT(chromium(exe, hr.dir, shot, url, "") == 0);
    png_image img;
    char why[200] = "";
    int rc = png_load(png, &img, why, sizeof why);
    if (rc)
        fprintf(stderr, "\n  screenshot: %s\n", why);
    CU_ASSERT_FATAL(rc == 0);
    CU_ASSERT_EQUAL(img.width, 1280);
    CU_ASSERT_EQUAL(img.height, 1600);
    /* not blank: many non-white pixels, many colors, and the heatmap's
     * pale greens and the failure reds are there */
    int64_t nonwhite = 0, greenish = 0, reddish = 0, npx = (int64_t)img.width * img.height;
    uint8_t seen[4096] = {0};
    int colors = 0;
    for (int64_t i = 0; i < npx; i++) {
        const uint8_t *p = img.pixels + i * img.channels;
        int r = p[0], g = p[1], b = p[2];
        nonwhite += r < 240 || g < 240 || b < 240;
        greenish += g > r + 30 && g > b + 30;
        reddish += r > g + 60 && r > b + 60;
        int q = (r >> 4) << 8 | (g >> 4) << 4 | b >> 4;
        if (!seen[q]) {
            seen[q] = 1;
            colors++;
        }
    }
    CU_ASSERT(nonwhite > npx / 50);
    CU_ASSERT(colors > 20);
    CU_ASSERT(greenish > 1000);
    CU_ASSERT(reddish > 200);
    fprintf(stderr, "\n  screenshot %ux%u: %.1f%% non-white, %d colors, %lld green, %lld red pixels\n", img.width,
            img.height, 100.0 * (double)nonwhite / (double)npx, colors, (long long)greenish, (long long)reddish);
    free(img.pixels);
    cleanup(&hr);
}

/* The PNG reader the screenshot check relies on, on a file of known pixels
 * (a 2x2 RGB image, zlib stored block, filters none and sub). */
static void test_png_reader(void)
{
    static const uint8_t png[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
        0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0, /* 2x2, 8-bit RGB */
        0, 0, 0, 0,                                                            /* CRC (not checked) */
        0, 0, 0, 25, 'I', 'D', 'A', 'T', 0x78, 0x01,                           /* zlib header */
        0x01, 14, 0, 0xf1, 0xff,                                               /* final stored block of 14 */
        0, 255, 0, 0, 0, 255, 0,                                               /* row 0, filter none */
        1, 0, 0, 255, 10, 20, 31,                /* row 1, filter sub: (10,20,30) - (0,0,255) mod 256 */
        0, 0, 0, 0,                              /* Adler-32 (not checked) */
        0, 0, 0, 0,                              /* CRC */
        0, 0, 0, 0, 'I', 'E', 'N', 'D', 0, 0, 0, 0};
    const char *path = scratch_path("kvv-html", "known.png");
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(png, 1, sizeof png, f) == sizeof png);
    fclose(f);
    png_image img;
    char why[100];
    CU_ASSERT_FATAL(png_load(path, &img, why, sizeof why) == 0);
    CU_ASSERT_EQUAL(img.width, 2);
    CU_ASSERT_EQUAL(img.height, 2);
    static const uint8_t want[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    CU_ASSERT(memcmp(img.pixels, want, 12) == 0);
    free(img.pixels);
    scratch_remove();
}

void kvv_register_tests(void)
{
    static const kvv_test t[] = {{"page text from a run with planted defects", test_html_text},
                                 {"input statistics of failure pages", test_input_stats},
                                 {"PNG reader on known pixels", test_png_reader},
                                 {"headless Chromium: DOM and screenshot", test_html_in_chromium},
                                 {NULL, NULL}};
    kvv_add_suite("HTML report", t);
}
