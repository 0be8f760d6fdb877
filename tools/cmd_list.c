/* `kvverify list`, `kvverify tables`, `kvverify version`. */
#include <stdio.h>
#include <string.h>

#include "oracle/cases.h"
#include "oracle/formats.h"
#include "tools/cli.h"
#include "tools/listing.h"

int cli_run(int argc, char **argv, int list_only);

/* `kvverify list coverage [--gate|--full] [--device] [-v]`: how much of
 * the dimension model (oracle/dims.c) the case list covers. */
static int list_coverage(int argc, char **argv)
{
    int full = 0, device = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--gate"))
            full = 0;
        else if (!strcmp(argv[i], "--full"))
            full = 1;
        else if (!strcmp(argv[i], "--device"))
            device = 1;
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            verbose = 1;
        else {
            fprintf(stderr, "kvverify: list coverage: unexpected argument '%s' (usage: kvverify list coverage "
                            "[--gate|--full] [--device] [-v])\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    kvv_case_list l = {0};
    if (full ? kvv_full_cases(&l) : kvv_gate_cases(&l)) {
        fprintf(stderr, "kvverify: list coverage: the case list could not be built\n");
        kvv_case_list_free(&l);
        return 1;
    }
    printf("%s: %d cases\n", full ? "the full matrix (--full)" : "the gate (--gate)", l.n);
    int rc = kvv_coverage_print(stdout, l.items, l.n, full ? 3 : 2, device, verbose);
    kvv_case_list_free(&l);
    return rc ? 1 : 0;
}

int cmd_list(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "--help") || !strcmp(what, "-h"))
        return cli_help("list", stdout);
    if (!strcmp(what, "types")) {
        kvv_print_types(stdout);
        return 0;
    }
    if (!strcmp(what, "cases"))
        return cli_run(argc - 1, argv + 1, 1);
    if (!strcmp(what, "backends")) {
        if (argc > 2)
            return cmd_probe(argc - 1, argv + 1);
        printf("%s\n", kvv_backend_builtin_names());
        return 0;
    }
    if (!strcmp(what, "devices"))
        return cli_list_devices(argc - 1, argv + 1);
    if (!strcmp(what, "coverage"))
        return list_coverage(argc - 1, argv + 1);
    if (!strcmp(what, "dims")) {
        kvv_dims_print(stdout);
        return 0;
    }
    fprintf(stderr, "kvverify: list what? types, cases, backends, devices, dims, coverage\n");
    return EXIT_USAGE;
}

int cmd_tables(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("tables", stdout);
    kvv_print_tables(stdout);
    return 0;
}

int cmd_version(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("version", stdout);
    printf("kvverify %s (commit %s)\n", KVV_VERSION, KVV_GIT_COMMIT);
    return 0;
}

/* `kvverify probe -b BACKEND[,...]` (also `list backends -b ...`): which
 * format version each backend stores each cache type in, and how it knows. */
int cmd_probe(int argc, char **argv)
{
    char list[1024] = ""; /* -b given twice adds */
    for (int i = 1; i < argc; i++) {
        const char *item = (!strcmp(argv[i], "-b") || !strcmp(argv[i], "--backend")) && i + 1 < argc ? argv[++i]
                           : !strncmp(argv[i], "--backend=", 10)                                 ? argv[i] + 10
                                                                                                  : NULL;
        if (item) {
            if (cli_list_add("-b", item, list, sizeof list))
                return EXIT_USAGE;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return cli_help("probe", stdout);
        else {
            fprintf(stderr, "kvverify: probe: unexpected argument '%s' (usage: kvverify probe -b BACKEND[,...])\n",
                    argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!*list) {
        fprintf(stderr, "kvverify: probe: which backend? (kvverify probe -b ggml-cpu:dir=PATH)\n");
        return EXIT_USAGE;
    }
    char store[1024];
    const char *names[KVV_MAX_BACKENDS];
    int nb = cli_split_backends(list, store, sizeof store, names);
    if (nb < 0)
        return EXIT_USAGE;
    for (int i = 0; i < nb; i++) /* every one up front, before any is asked */
        if (cli_check_backend(names[i], CLI_OPEN_SECONDS))
            return EXIT_USAGE;
    int rc = 0;
    for (int i = 0; i < nb; i++)
        rc |= kvv_formats_report(names[i], stdout) != 0;
    return rc;
}
