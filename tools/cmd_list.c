/* `kvverify list`, `kvverify tables`, `kvverify version`. */
#include <stdio.h>
#include <string.h>

#include "oracle/oracle.h"
#include "tools/cli.h"

int cli_run(int argc, char **argv, int list_only);

int cmd_list(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "types")) {
        kvv_print_types(stdout);
        return 0;
    }
    if (!strcmp(what, "cases"))
        return cli_run(argc - 1, argv + 1, 1);
    if (!strcmp(what, "backends")) {
        printf("%s\n", kvv_backend_builtin_names());
        return 0;
    }
    if (!strcmp(what, "devices"))
        return cli_list_devices(argc - 1, argv + 1);
    fprintf(stderr, "kvverify: list what? types, cases, backends, devices\n");
    return EXIT_USAGE;
}

int cmd_tables(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    kvv_print_tables(stdout);
    return 0;
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("kvverify %s (commit %s)\n", KVV_VERSION, KVV_GIT_COMMIT);
    return 0;
}
