/* `kvverify bench`: a program, not a test (see bench/bench.c).  The
 * backends run in a child process (bench/isolate_bench.c): what they print
 * goes to stderr, and one that crashes is named and left out while the
 * others are measured. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "oracle/isolate.h"
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

/* The JSON is written by the child to a temporary file (the child's
 * stdout is its backends' stderr) and copied to its place (stdout for "-")
 * by this process, which checks every write: a report that cannot be
 * written in full is an error naming the file (exit 2), as in run. */
static int copy_json(const char *tmp, const char *dest)
{
    FILE *f = fopen(tmp, "r"), *o = strcmp(dest, "-") ? fopen(dest, "w") : stdout;
    char buf[1 << 16];
    size_t n;
    int rc = f && o ? 0 : -1, err = f && o ? 0 : errno;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if (fwrite(buf, 1, n, o) != n)
            rc = -1, err = errno;
    if (f)
        fclose(f);
    if (o && (o == stdout ? fflush(o) : fclose(o)) && rc == 0)
        rc = -1, err = errno;
    if (rc)
        fprintf(stderr, "kvverify bench: the JSON report %s is incomplete: %s\n", strcmp(dest, "-") ? dest : "on stdout",
                strerror(err ? err : EIO));
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
    if (json) {
        snprintf(tmp, sizeof tmp, "/tmp/kvverify-bench-XXXXXX");
        int fd = mkstemp(tmp);
        if (fd < 0) {
            perror("kvverify bench: a temporary file for --json");
            return 1;
        }
        close(fd);
    }
    bo.json = json ? tmp : NULL;
    int rc = kvv_bench_isolated(json_out ? stderr : stdout, names, nb, body, &bo);
    /* the JSON of the run that completed, if one did (after a crash: the
     * run without that backend) */
    struct stat sb;
    if (json && rc >= 0 && stat(tmp, &sb) == 0 && sb.st_size > 0 && copy_json(tmp, json))
        rc = EXIT_USAGE;
    if (json)
        unlink(tmp);
    if (rc == EXIT_USAGE)
        return EXIT_USAGE;
    return rc ? 1 : 0;
}
