/* The device side of the command line: `list devices`, --vk-device, and the
 * default backend selection (every built-in backend whose probe finds it can
 * run here).  It asks the registry of built-in backends, so a build without
 * a device backend gets the same functions, which say why it is missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/registry.h"
#include "tools/cli.h"

int cli_vk_device(const char *arg)
{
    int n;
    if (cli_int("--vk-device", arg, 0, 255, &n))
        return -1;
    const kvv_builtin *vk = kvv_builtin_find("vulkan");
    char why[200];
    if (!vk || !vk->select_device) {
        const char *label, *missing = kvv_builtin_unbuilt("vulkan", &label);
        fprintf(stderr, "kvverify: --vk-device: this kvverify was built without the Vulkan backend%s%s%s\n",
                missing ? " (" : "", missing ? missing : "", missing ? ")" : "");
        return -1;
    }
    if (vk->select_device(n, why, sizeof why)) {
        fprintf(stderr, "kvverify: --vk-device: %s\n", why);
        return -1;
    }
    return 0;
}

/* The probes run in child processes, so this process holds no device state
 * when it forks its workers; one line per device backend says what was
 * found (the CPU always runs and needs no line). */
const char *cli_default_backends(void)
{
    static char list[256];
    char lines[1024] = "";
    list[0] = 0;
    for (int i = 0; kvv_builtin_at(i); i++) {
        const kvv_builtin *b = kvv_builtin_at(i);
        char desc[512];
        int ok = b->probe(desc, sizeof desc);
        if (ok)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? "," : "", b->name);
        if (b->list_devices)
            snprintf(lines + strlen(lines), sizeof lines - strlen(lines), "%s: %s%s%s\n", b->label,
                     ok ? "" : "no device (", desc, ok ? "" : ")");
    }
    const char *name, *label, *why;
    for (int i = 0; kvv_builtin_unbuilt_at(i, &name, &label, &why); i++)
        snprintf(lines + strlen(lines), sizeof lines - strlen(lines), "%s: not built in (%s)\n", label, why);
    /* the last line names the selection: "...; running cpu and vulkan" */
    size_t len = strlen(lines);
    if (len)
        lines[len - 1] = 0;
    char running[300];
    const char *comma = strrchr(list, ',');
    if (comma)
        snprintf(running, sizeof running, "%.*s and %s", (int)(comma - list), list, comma + 1);
    else
        snprintf(running, sizeof running, "%s only", list);
    if (len)
        printf("%s; running %s\n", lines, running);
    else
        printf("running %s\n", running);
    return list;
}

void cli_vk_describe(const char *list)
{
    char copy[1024], *save = NULL;
    snprintf(copy, sizeof copy, "%s", list);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const kvv_builtin *b = kvv_builtin_find(t);
        if (!b || !b->list_devices)
            continue;
        char desc[512];
        int ok = b->probe(desc, sizeof desc);
        printf("%s: %s%s\n", b->label, ok ? "" : "cannot open a device: ", desc);
    }
}

int cli_list_devices(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("list devices", stdout);
    if (argc > 2 && !strcmp(argv[1], "--vk-device") && cli_vk_device(argv[2]))
        return EXIT_USAGE;
    int total = 0;
    for (int i = 0; kvv_builtin_at(i); i++) {
        const kvv_builtin *b = kvv_builtin_at(i);
        if (!b->list_devices)
            continue;
        char why[400] = "";
        int n = b->list_devices(stdout, why, sizeof why);
        if (n <= 0)
            printf("no %s devices: %s\n", b->label, why);
        total += n > 0 ? n : 0;
    }
    const char *name, *label, *why;
    for (int i = 0; kvv_builtin_unbuilt_at(i, &name, &label, &why); i++)
        printf("no %s devices: this kvverify was built without the %s backend (%s)\n", label, label, why);
    return total > 0 ? 0 : 1;
}
