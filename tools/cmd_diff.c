/* `kvverify diff A.h5 B.h5`: compare two dumps (two commits, two backends,
 * two machines) case by case and name the first stage where they diverge. */
#include <stdio.h>
#include <string.h>

#include "oracle/run.h"
#include "tools/cli.h"

int cmd_diff(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("diff", stdout);
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        fprintf(stderr, "usage: kvverify diff A.h5 B.h5\n");
        return EXIT_USAGE;
    }
    char why[1200];
    int rc = kvv_dump_diff(argv[1], argv[2], stdout, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "kvverify: %s\n", why);
        return EXIT_USAGE;
    }
    return rc;
}
