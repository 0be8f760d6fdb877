/* `kvverify replay FILE.h5`: rerun the cases of a dump from their stored
 * inputs and say whether each stored verdict is reproduced (the engine:
 * oracle/replay.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oracle/replay.h"
#include "tools/cli.h"

typedef struct {
    const char *file, *backends, *pattern, *dump;
    int jobs, verbose, no_isolate, dump_all, guard;
    double timeout;
    char patterns[1024], blist[1024]; /* -p and -b, given twice, add */
} replay_args;

static int parse_replay_args(int argc, char **argv, replay_args *a)
{
    enum { O_TIMEOUT = 256, O_NOISO, O_DUMP, O_DUMP_ALL, O_GUARD };
    static const struct option opts[] = {
        {"backend", required_argument, 0, 'b'}, {"pattern", required_argument, 0, 'p'},
        {"jobs", required_argument, 0, 'j'},    {"timeout", required_argument, 0, O_TIMEOUT},
        {"no-isolate", no_argument, 0, O_NOISO}, {"dump", required_argument, 0, O_DUMP},
        {"dump-all", no_argument, 0, O_DUMP_ALL}, {"verbose", no_argument, 0, 'v'},
        {"guard", no_argument, 0, O_GUARD},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    a->jobs = ncpu > 0 ? (int)ncpu : 1;
    a->timeout = 120;
    optind = 1;
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "b:p:j:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            if (cli_list_add("-b", optarg, a->blist, sizeof a->blist))
                return -1;
            a->backends = a->blist;
            break;
        case 'p':
            if (cli_list_add("-p", optarg, a->patterns, sizeof a->patterns))
                return -1;
            a->pattern = a->patterns;
            break;
        case 'j':
            a->jobs = (int)strtol(optarg, &end, 10);
            if (*end || a->jobs < 1 || a->jobs > 256) {
                fprintf(stderr, "kvverify: -j needs 1..256, not '%s'\n", optarg);
                return -1;
            }
            break;
        case O_TIMEOUT:
            a->timeout = strtod(optarg, &end);
            if (*end || !(a->timeout > 0)) {
                fprintf(stderr, "kvverify: --timeout needs a positive number of seconds, not '%s'\n", optarg);
                return -1;
            }
            break;
        case O_NOISO: a->no_isolate = 1; break;
        case O_DUMP: a->dump = optarg; break;
        case O_DUMP_ALL: a->dump_all = 1; break;
        case O_GUARD: a->guard = 1; break;
        case 'v': a->verbose = 1; break;
        case 'h': cli_help("replay", stdout); exit(0);
        default: return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "kvverify: replay takes one dump file (kvverify replay FILE.h5 [-b BACKENDS])\n");
        return -1;
    }
    if (a->dump_all && !a->dump) {
        fprintf(stderr, "kvverify: --dump-all needs --dump FILE\n");
        return -1;
    }
    if (a->dump && cli_dump_check(a->dump))
        return -1;
    a->file = argv[optind];
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    replay_args a;
    if (parse_replay_args(argc, argv, &a))
        return EXIT_USAGE;
    char bstore[1024], machine[256], why[1200];
    const char *bnames[KVV_MAX_BACKENDS];
    int nb = 0;
    if (a.backends) { /* a backend that cannot be opened is refused before any work */
        nb = cli_split_backends(a.backends, bstore, sizeof bstore, bnames);
        for (int i = 0; i < nb; i++)
            if (cli_check_backend(bnames[i], a.timeout))
                nb = -1;
        if (nb < 0)
            return EXIT_USAGE;
    }
    kvv_replay_set st;
    if (kvv_replay_load(a.file, a.pattern, &st, stdout, why, sizeof why)) {
        fprintf(stderr, "kvverify: %s\n", why);
        kvv_replay_free(&st);
        return EXIT_USAGE;
    }
    if (st.n == 0) {
        fprintf(stderr, "kvverify: %s holds no case%s\n", a.file, a.pattern ? " that matches the pattern" : "");
        kvv_replay_free(&st);
        return EXIT_USAGE;
    }
    /* without -b, the backends the dump names, each opened once up front as
     * -b's are: one that is gone or broken is refused before any work */
    for (int i = 0; i < st.n && !a.backends; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(st.e[j].backend, st.e[i].backend);
        if (!seen && cli_check_backend(st.e[i].backend, a.timeout)) {
            fprintf(stderr, "kvverify: %s stores cases of that backend; -b BACKENDS replays them on others\n", a.file);
            kvv_replay_free(&st);
            return EXIT_USAGE;
        }
    }
    kvv_replay_check_inputs(&st, stdout);
    cli_machine_name(machine, sizeof machine);
    kvv_replay_opts o = {a.backends ? bnames : NULL, nb, a.no_isolate ? 0 : a.jobs, a.timeout, a.verbose, a.guard,
                         NULL, a.dump_all, machine, stdout};
    if (a.dump) {
        char started[64];
        time_t now = time(NULL);
        strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        kvv_run_info info = {KVV_VERSION, KVV_GIT_COMMIT, machine, started, "replay", 0, {0}, st.n, 0};
        if (!(o.dump = cli_dump_create(a.dump, a.dump_all, &info))) {
            kvv_replay_free(&st);
            return EXIT_USAGE;
        }
    }
    kvv_replay_result r;
    int failures = kvv_replay_run(&st, &o, &r), rc;
    if (failures < 0) {
        fprintf(stderr, "kvverify: the replay could not start\n");
        rc = 1;
    } else {
        printf("replay: %d verdict%s differ%s from the stored one%s\n", r.changed, r.changed == 1 ? "" : "s",
               r.changed == 1 ? "s" : "", r.changed == 1 ? "" : "s");
        rc = failures > 0 || r.interrupted ? 1 : 0;
    }
    if (o.dump) {
        kvv_summary s;
        memset(&s, 0, sizeof s);
        s.interrupted = r.interrupted;
        if (cli_dump_finish(o.dump, a.dump, &s))
            rc = rc ? rc : 1;
    }
    kvv_replay_free(&st);
    return rc;
}
