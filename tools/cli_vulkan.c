/* The Vulkan side of the command line: `list devices`, --vk-device, and the
 * default backend selection (cpu, plus vulkan when a device can be opened).
 * Builds without the Vulkan backend get the same functions, which say so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#ifdef KVV_HAVE_VULKAN
#include "kernels/vulkan/vk_backend.h"
#endif

int cli_vk_device(const char *arg)
{
    int n;
    if (cli_int("--vk-device", arg, 0, 255, &n))
        return -1;
#ifdef KVV_HAVE_VULKAN
    char why[200];
    if (kvv_vulkan_select_device(n, why, sizeof why)) {
        fprintf(stderr, "kvverify: --vk-device: %s\n", why);
        return -1;
    }
    return 0;
#else
    fprintf(stderr, "kvverify: --vk-device: this kvverify was built without the Vulkan backend\n");
    return -1;
#endif
}

/* The probe runs in a child process, so this process holds no Vulkan state
 * when it forks its workers; one line says what was found. */
const char *cli_default_backends(void)
{
#ifdef KVV_HAVE_VULKAN
    char desc[512];
    if (kvv_vulkan_probe(desc, sizeof desc)) {
        printf("Vulkan: %s; running cpu and vulkan\n", desc);
        return "cpu,vulkan";
    }
    printf("Vulkan: no device (%s); running cpu only\n", desc);
#else
    printf("Vulkan: not built in (configure with libvulkan-dev and glslc installed); running cpu only\n");
#endif
    return "cpu";
}

void cli_vk_describe(const char *list)
{
    char copy[1024], *save = NULL;
    snprintf(copy, sizeof copy, "%s", list);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!strcmp(t, "vulkan")) {
#ifdef KVV_HAVE_VULKAN
            char desc[512];
            int ok = kvv_vulkan_probe(desc, sizeof desc);
            printf("Vulkan: %s%s\n", ok ? "" : "cannot open a device: ", desc);
#endif
            return;
        }
}

int cli_list_devices(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("list devices", stdout);
    if (argc > 2 && !strcmp(argv[1], "--vk-device") && cli_vk_device(argv[2]))
        return EXIT_USAGE;
#ifdef KVV_HAVE_VULKAN
    char why[400] = "";
    int n = kvv_vulkan_list_devices(stdout, why, sizeof why);
    if (n <= 0)
        printf("no Vulkan devices: %s\n", why);
    return n > 0 ? 0 : 1;
#else
    printf("no Vulkan devices: this kvverify was built without the Vulkan backend\n");
    return 1;
#endif
}
