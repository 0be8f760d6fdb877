/* `kvverify compare BASELINE CURRENT`: the nightly gate's comparison of a
 * run's per-case error ratios with a stored baseline. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/reports.h"
#include "tools/cli.h"

static int positive(const char *opt, const char *s, double lo, double *out)
{
    char *end;
    *out = strtod(s, &end);
    if (*end || !*s || !(*out >= lo)) {
        fprintf(stderr, "kvverify: %s needs a number >= %g, not '%s'\n", opt, lo, s);
        return -1;
    }
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {{"factor", required_argument, 0, 'f'},
                                         {"floor", required_argument, 0, 'F'},
                                         {"list", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    kvv_compare_opts o = {2.0, 0.01, 50};
    double list = 50;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (positive("--factor", optarg, 1.0, &o.factor))
                return EXIT_USAGE;
            break;
        case 'F':
            if (positive("--floor", optarg, 0.0, &o.floor))
                return EXIT_USAGE;
            break;
        case 'l':
            if (positive("--list", optarg, 0.0, &list))
                return EXIT_USAGE;
            o.list_max = (int)list;
            break;
        case 'h': return cli_help("compare", stdout);
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: kvverify compare BASELINE CURRENT [--factor F] [--floor R] [--list N]\n");
        return EXIT_USAGE;
    }
    kvv_ratio_set base = {0}, cur = {0};
    char why[512];
    if (kvv_ratios_load(argv[optind], &base, why, sizeof why) ||
        kvv_ratios_load(argv[optind + 1], &cur, why, sizeof why)) {
        fprintf(stderr, "kvverify: %s\n", why);
        kvv_ratios_free(&base);
        kvv_ratios_free(&cur);
        return EXIT_USAGE;
    }
    printf("baseline %s: %lld results; current %s: %lld results\n", argv[optind], (long long)base.n,
           argv[optind + 1], (long long)cur.n);
    kvv_compare_result r;
    int64_t bad = kvv_compare(&base, &cur, &o, stdout, &r);
    kvv_ratios_free(&base);
    kvv_ratios_free(&cur);
    if (bad < 0) {
        fprintf(stderr, "kvverify: out of memory\n");
        return EXIT_USAGE;
    }
    return bad ? 1 : 0;
}
