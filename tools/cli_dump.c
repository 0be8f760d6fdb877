/* Opening and closing the HDF5 dump of `run` and `replay`. */
#include <stdio.h>

#include "oracle/run.h"
#include "tools/cli.h"

int cli_dump_check(const char *path)
{
    char why[1200];
    if (kvv_dump_check_path(path, why, sizeof why) == 0)
        return 0;
    fprintf(stderr, "kvverify: --dump: %s\n", why);
    return -1;
}

kvv_dump_writer *cli_dump_create(const char *path, int all, const kvv_run_info *info)
{
    kvv_dump_meta m = {info->version, info->commit, info->machine, info->started, info->command, all};
    char why[1024];
    kvv_dump_writer *w = kvv_dump_create(path, &m, why, sizeof why);
    if (!w)
        fprintf(stderr, "kvverify: dump: %s\n", why);
    return w;
}

int cli_dump_finish(kvv_dump_writer *w, const char *path, const kvv_summary *s)
{
    int64_t n = kvv_dump_written(w);
    char why[1200];
    if (kvv_dump_finish(w, !s->interrupted, why, sizeof why)) {
        fprintf(stderr, "kvverify: dump: %s\n", why);
        return -1;
    }
    printf("dump: %lld case%s written to %s%s\n", (long long)n, n == 1 ? "" : "s", path,
           s->interrupted ? " (the run was interrupted: only the finished cases)" : "");
    return 0;
}
