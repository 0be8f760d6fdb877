/* `kvverify bench`: a program, not a test (see oracle/bench.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "oracle/oracle.h"
#include "tools/cli.h"

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {{"backend", required_argument, 0, 'b'},
                                         {"threads", required_argument, 0, 't'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"vk-device", required_argument, 0, 'd'},
                                         {"json", required_argument, 0, 'J'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *blist = "cpu", *json = NULL;
    int threads = 1, reps = 5, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:t:r:d:h", opts, NULL)) != -1) {
        if (ch == 'h')
            return cli_help("bench", stdout);
        else if (ch == 'b')
            blist = optarg;
        else if (ch == 't') {
            if (cli_int("--threads", optarg, 1, 256, &threads))
                return EXIT_USAGE;
        } else if (ch == 'r') {
            if (cli_int("--reps", optarg, 1, 1000, &reps))
                return EXIT_USAGE;
        } else if (ch == 'J') {
            json = optarg;
        } else if (ch == 'd') {
            if (cli_vk_device(optarg))
                return EXIT_USAGE;
        } else
            return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "kvverify: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    char store[1024], why[300];
    const char *names[KVV_MAX_BACKENDS];
    const kvv_backend *bk[KVV_MAX_BACKENDS];
    int nb = cli_split_backends(blist, store, sizeof store, names);
    if (nb < 0)
        return EXIT_USAGE;
    for (int i = 0; i < nb; i++)
        if (cli_check_backend(names[i], CLI_OPEN_SECONDS))
            return EXIT_USAGE;
    int opened = 0, rc = EXIT_USAGE;
    for (; opened < nb; opened++)
        if (!(bk[opened] = kvv_backend_open(names[opened], why, sizeof why))) {
            fprintf(stderr, "kvverify bench: backend %s: %s\n", names[opened], why);
            goto out;
        }
    rc = kvv_bench(stdout, bk, names, nb, threads, reps, json) ? 1 : 0;
out:
    /* Bench runs the backends in this process (no workers), so it releases
     * them itself: a library's device and buffers go before exit. */
    for (int i = 0; i < opened; i++)
        if (bk[i]->destroy)
            bk[i]->destroy(bk[i]->ctx);
    return rc;
}

