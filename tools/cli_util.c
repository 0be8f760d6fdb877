/* Helpers shared by the subcommands. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "reports/reports.h"
#include "tools/cli.h"

void cli_machine_name(char *buf, size_t n)
{
    struct utsname u;
    char model[128] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        fclose(f);
    }
    if (uname(&u) == 0)
        snprintf(buf, n, "%s %s, %ld CPUs%s%s", u.nodename, u.machine, sysconf(_SC_NPROCESSORS_ONLN),
                 *model ? ", " : "", model);
    else
        snprintf(buf, n, "unknown machine");
}

int cli_split_backends(const char *list, char *store, size_t n, const char **names)
{
    snprintf(store, n, "%s", list);
    int k = 0;
    char *save = NULL;
    for (char *t = strtok_r(store, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (k == KVV_MAX_BACKENDS) {
            fprintf(stderr, "kvverify: at most %d backends in one run\n", KVV_MAX_BACKENDS);
            return -1;
        }
        names[k++] = t;
    }
    if (k == 0) {
        fprintf(stderr, "kvverify: -b needs at least one backend\n");
        return -1;
    }
    return k;
}

