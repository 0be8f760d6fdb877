/* What `kvverify bisect` and its step share: their options, and reading a
 * run's failing cases out of its log (tools/cmd_bisect.c, the driver, and
 * tools/cmd_bisect_step.c, the test git bisect runs at each commit). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/verdict.h"
#include "tools/bisect.h"

int bisect_parse_args(int argc, char **argv, bisect_args *a, int step)
{
    enum { O_GOOD = 256, O_BAD, O_BUILD, O_PLUGIN, O_EXE, O_STATE, O_REPO, O_HOME, O_FIXED, O_TREE, O_RULE };
    static const struct option opts[] = {
        {"good", required_argument, 0, O_GOOD},     {"bad", required_argument, 0, O_BAD},
        {"build", required_argument, 0, O_BUILD},   {"plugin", required_argument, 0, O_PLUGIN},
        {"exe", required_argument, 0, O_EXE},       {"state", required_argument, 0, O_STATE},
        {"repo", required_argument, 0, O_REPO},     {"home", required_argument, 0, O_HOME},
        {"fixed", no_argument, 0, O_FIXED},         {"tree", required_argument, 0, O_TREE},
        {"backend", required_argument, 0, 'b'},     {"pattern", required_argument, 0, 'p'},
        {"rule", required_argument, 0, O_RULE},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->dir = ".";
    a->build = BISECT_DEFAULT_BUILD;
    optind = 1;
    int ch;
    /* "+": stop at the first non-option, so that what follows -- is kept */
    while ((ch = getopt_long(argc, argv, "+C:p:b:h", opts, NULL)) != -1) {
        switch (ch) {
        case O_GOOD: a->good = optarg; break;
        case O_BAD: a->bad = optarg; break;
        case O_BUILD: a->build = optarg; break;
        case O_PLUGIN: a->plugin = optarg; break;
        case O_EXE: a->exe = optarg; break;
        case O_STATE: a->state = optarg; break;
        case O_REPO: a->repo = optarg; break;
        case O_HOME: a->home = optarg; break;
        case O_FIXED: a->fixed = 1; break;
        case O_TREE:
            if (cli_list_add("--tree", optarg, a->trees, sizeof a->trees))
                return -1;
            a->tree = a->trees;
            break;
        case O_RULE:
            if (cli_list_add("--rule", optarg, a->rules, sizeof a->rules))
                return -1;
            a->rule = a->rules;
            break;
        case 'b':
            if (a->backend) {
                fprintf(stderr, "kvverify: bisect takes one backend; -b given twice ('%s', '%s')\n", a->backend,
                        optarg);
                return -1;
            }
            a->backend = optarg;
            break;
        case 'C': a->dir = optarg; break;
        case 'p':
            if (cli_list_add("-p", optarg, a->patterns, sizeof a->patterns))
                return -1;
            a->pattern = a->patterns;
            break;
        case 'h': cli_help("bisect", stdout); exit(0);
        default: return -1;
        }
    }
    a->extra = argv + optind;
    a->nextra = argc - optind;
    if (a->nextra + 8 > BISECT_MAX_ARGS) {
        fprintf(stderr, "kvverify: too many run arguments\n");
        return -1;
    }
    if (!!a->plugin + !!a->exe + !!a->backend > 1) {
        fprintf(stderr, "kvverify: bisect takes one of --plugin LIB, -b BACKEND and --exe PATH\n");
        return -1;
    }
    if (a->tree && cli_list_check("--tree", a->tree))
        return -1;
    if (a->tree && strchr(a->tree, ',')) {
        /* folders add up; full and none stand alone */
        char list[sizeof a->trees], *save = NULL;
        snprintf(list, sizeof list, "%s", a->tree);
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (!strcmp(t, "full") || !strcmp(t, "none")) {
                fprintf(stderr, "kvverify: --tree %s: '%s' stands alone (--tree full|none|FOLDERS)\n", a->tree, t);
                return -1;
            }
    }
    if (a->rule && (cli_list_check("--rule", a->rule) || !bisect_rules_known(a->rule)))
        return -1;
    if (!a->exe && !a->plugin && !a->backend)
        a->exe = BISECT_DEFAULT_EXE;
    if (step ? !a->state || !a->repo : !a->good || !a->bad) {
        fprintf(stderr, step ? "kvverify: bisect-step is run by kvverify bisect\n"
                             : "kvverify: bisect needs --good REV and --bad REV\n");
        return -1;
    }
    return 0;
}

/* Append src to the string in dst (of n bytes), cut to fit. */
static void append(char *dst, size_t n, const char *src)
{
    size_t k = strlen(dst), m = strlen(src);
    if (k + 1 >= n)
        return;
    if (m > n - 1 - k)
        m = n - 1 - k;
    memcpy(dst + k, src, m);
    dst[k + m] = 0;
}

int bisect_ran_none(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[2048];
    int none = 0;
    long checks, pass, fail, skip;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%ld checks: %ld passed, %ld failed, %ld skipped", &checks, &pass, &fail, &skip) == 4)
            none = pass == 0 && fail == 0;
    if (f)
        fclose(f);
    return none;
}

/* Whether a "[rule] detail" line names one of the rules (NULL: any) */
static int line_has_rule(const char *line, const char *rules)
{
    if (!rules)
        return 1;
    line += strspn(line, " \t");
    if (*line != '[')
        return 0;
    size_t len = strcspn(line + 1, "]");
    for (const char *r = rules; *r;) {
        size_t k = strcspn(r, ",");
        if (k == len && !strncmp(r, line + 1, len))
            return 1;
        r += k + (r[k] == ',');
    }
    return 0;
}

int bisect_rules_known(const char *rules)
{
    for (const char *r = rules; *r;) {
        size_t k = strcspn(r, ",");
        int known = 0;
        for (int i = 0; i < KVV_RULE_COUNT && !known; i++) {
            const char *name = kvv_rule_name((kvv_rule)i);
            known = strlen(name) == k && !strncmp(name, r, k);
        }
        if (!known) {
            fprintf(stderr, "kvverify: --rule %.*s: no such rule (the rules: README, Rules)\n", (int)k, r);
            return 0;
        }
        r += k + (r[k] == ',');
    }
    return 1;
}

int bisect_scan_failures(const char *log, const char *rules, char *first, size_t n)
{
    FILE *f = fopen(log, "r");
    int count = 0;
    if (first && n)
        first[0] = 0;
    if (!f)
        return 0;
    char line[2048], fail[2048] = "";
    int pending = 0; /* a FAIL line whose rule is on the next line */
    while (fgets(line, sizeof line, f)) {
        if (pending) {
            pending = 0;
            if (line_has_rule(line, rules)) {
                if (count == 0 && first) {
                    append(first, n, fail);
                    append(first, n, line);
                }
                count++;
            }
        }
        if (!strncmp(line, "FAIL ", 5)) {
            snprintf(fail, sizeof fail, "%s", line);
            pending = 1;
        }
    }
    if (pending && !rules) { /* a FAIL line the log ends on */
        if (count == 0 && first)
            append(first, n, fail);
        count++;
    }
    fclose(f);
    return count;
}
