/* `kvverify bisect` and `kvverify bisect-step` (the test git bisect runs at
 * each commit): their options, parsed into the engine's (bisect/bisect.h),
 * which does the rest. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/verdict.h"
#include "bisect/bisect.h"
#include "tools/cli.h"

static int rules_known(const char *rules);

/* The options of `bisect` (step = 0) and of `bisect-step` (step = 1);
 * 0, or -1 with a message printed. */
static int parse_args(int argc, char **argv, kvv_bisect_opts *a, int step)
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
    a->build = KVV_BISECT_DEFAULT_BUILD;
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
    if (a->nextra + 8 > KVV_BISECT_MAX_ARGS) {
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
    if (a->rule && (cli_list_check("--rule", a->rule) || !rules_known(a->rule)))
        return -1;
    if (!a->exe && !a->plugin && !a->backend)
        a->exe = KVV_BISECT_DEFAULT_EXE;
    if (step ? !a->state || !a->repo : !a->good || !a->bad) {
        fprintf(stderr, step ? "kvverify: bisect-step is run by kvverify bisect\n"
                             : "kvverify: bisect needs --good REV and --bad REV\n");
        return -1;
    }
    return 0;
}

/* Whether every rule of the list is one kvverify has; else prints why */
static int rules_known(const char *rules)
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

int cmd_bisect(int argc, char **argv)
{
    kvv_bisect_opts a;
    if (parse_args(argc, argv, &a, 0))
        return EXIT_USAGE;
    int rc = kvv_bisect_run(&a);
    return rc < 0 ? EXIT_USAGE : rc;
}

int cmd_bisect_step(int argc, char **argv)
{
    kvv_bisect_opts a;
    if (parse_args(argc, argv, &a, 1))
        return KVV_STEP_SKIP;
    return kvv_bisect_step(&a);
}
