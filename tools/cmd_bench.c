/* `kvverify bench`: a program, not a test (see oracle/bench.c).  The
 * backends run in a child process (oracle/isolate_bench.c): what they print
 * goes to stderr, and one that crashes is named and left out while the
 * others are measured. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oracle/oracle.h"
#include "tools/cli.h"

typedef struct {
    int threads, reps;
    const char *json; /* the file the child writes the JSON to, or NULL */
} bench_opts;

static int body(FILE *out, const kvv_backend *const *bk, const char *const *names, int nb, void *arg)
{
    const bench_opts *o = arg;
    return kvv_bench(out, bk, names, nb, o->threads, o->reps, o->json);
}

/* The JSON of `--json -`, written by the child to a temporary file (the
 * child's stdout is its backends' stderr), copied to stdout at the end. */
static int copy_to_stdout(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[1 << 16];
    size_t n;
    int rc = f ? 0 : -1;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if (fwrite(buf, 1, n, stdout) != n)
            rc = -1;
    if (f)
        fclose(f);
    if (fflush(stdout))
        rc = -1;
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {{"backend", required_argument, 0, 'b'},
                                         {"threads", required_argument, 0, 't'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"vk-device", required_argument, 0, 'd'},
                                         {"json", required_argument, 0, 'J'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    char blist[1024] = "";
    const char *json = NULL;
    bench_opts bo = {1, 5, NULL};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "b:t:r:d:h", opts, NULL)) != -1) {
        if (ch == 'h')
            return cli_help("bench", stdout);
        else if (ch == 'b') {
            if (cli_list_add("-b", optarg, blist, sizeof blist)) /* given twice, adds */
                return EXIT_USAGE;
        } else if (ch == 't') {
            if (cli_int("--threads", optarg, 1, 256, &bo.threads))
                return EXIT_USAGE;
        } else if (ch == 'r') {
            if (cli_int("--reps", optarg, 1, 1000, &bo.reps))
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
    if (json && strcmp(json, "-") && cli_check_out_file("--json", json))
        return EXIT_USAGE;
    char store[1024];
    const char *names[KVV_MAX_BACKENDS];
    int nb = cli_split_backends(*blist ? blist : "cpu", store, sizeof store, names);
    if (nb < 0)
        return EXIT_USAGE;
    for (int i = 0; i < nb; i++)
        if (cli_check_backend(names[i], CLI_OPEN_SECONDS))
            return EXIT_USAGE;
    /* with --json -, stdout holds the JSON alone and the lines go to stderr */
    const int json_out = json && !strcmp(json, "-");
    char tmp[64] = "";
    if (json_out) {
        snprintf(tmp, sizeof tmp, "/tmp/kvverify-bench-XXXXXX");
        int fd = mkstemp(tmp);
        if (fd < 0) {
            perror("kvverify bench: a temporary file for --json -");
            return 1;
        }
        close(fd);
    }
    bo.json = json_out ? tmp : json;
    int rc = kvv_bench_isolated(json_out ? stderr : stdout, names, nb, body, &bo);
    /* the JSON of the run that completed, if one did (after a crash: the
     * run without that backend) */
    struct stat sb;
    if (json_out && rc >= 0 && stat(tmp, &sb) == 0 && sb.st_size > 0) {
        if (copy_to_stdout(tmp)) {
            perror("kvverify bench: writing the JSON to stdout");
            rc = 1;
        }
    }
    if (json_out)
        unlink(tmp);
    return rc ? 1 : 0;
}
