/* Writes the shaders' view of kvv/formats.def (build step of
 * kernels/vulkan/CMakeLists.txt; included by shaders/common.glsl): the type
 * ids as kvv_type numbers them, block and bytes per type, which types
 * are float and which TurboQuant (rotated), and TYPE_SWITCH, a switch with a case per id.
 * Usage: formats_glsl OUT.glsl */
#include <stdio.h>

#include "kvv/types.h"

/* type_is_turbo and type_is_float test a bit of a uint per id */
_Static_assert(KVV_TYPE_COUNT <= 32, "more ids than bits in a GLSL uint: give type_is_* another form");

int main(int argc, char **argv)
{
    FILE *f = argc == 2 ? fopen(argv[1], "w") : NULL;
    if (!f) {
        fprintf(stderr, "usage: formats_glsl OUT.glsl (and a folder to write it in)\n");
        return 2;
    }
    fprintf(f, "// Generated from include/kvv/formats.def by kernels/vulkan/gen/formats_glsl.c.\n\n"
               "// The kvv_type values (the host passes them as is).\n");
#define KVV_FORMAT(id, value, ...) fprintf(f, "const uint T_%s = %du;\n", #id, value);
#include "kvv/formats.def"
    fprintf(f, "// how many ids there are (a macro, so that shaders can test it in #if)\n"
               "#define T_TYPE_COUNT %d\n\n",
            KVV_TYPE_COUNT);

    const char *arrays[2] = {"TYPE_BLOCK", "TYPE_BYTES"};
    fprintf(f, "// Values per block and bytes per block, indexed by type; the float types,\n"
               "// and the TurboQuant types (stored in the WHT-rotated basis).\n");
    for (int a = 0; a < 2; a++) {
        fprintf(f, "const uint %s[%d] = uint[](", arrays[a], KVV_TYPE_COUNT);
        for (int t = 0; t < KVV_TYPE_COUNT; t++) {
            const kvv_format *r = kvv_format_get((kvv_type)t);
            fprintf(f, "%s%du", t ? ", " : "", a == 0 ? r->block : r->bytes);
        }
        fprintf(f, ");\n");
    }
    /* a bit per id: no branch (|| would make one per id in SPIR-V), and it
     * folds wherever t is a constant */
    for (int fam = 0; fam < 2; fam++) {
        unsigned mask = 0;
        for (int t = 0; t < KVV_TYPE_COUNT; t++)
            if (kvv_format_get((kvv_type)t)->family == (fam ? KVV_FAMILY_TURBO : KVV_FAMILY_FLOAT))
                mask |= 1u << t;
        fprintf(f, "bool type_is_%s(uint t) { return ((0x%xu >> t) & 1u) != 0u; }\n", fam ? "turbo" : "float", mask);
    }
    fprintf(f, "\n");

    /* The attention shaders instantiate their dequantizing loops once per
     * type behind this switch (fa_common.glsl says why); an id without its
     * case would run as another type and read the cache in the wrong
     * format, so every id has one, the last as the default. */
    fprintf(f, "// TYPE_SWITCH(T, CALL): CALL(t) with t the constant id equal to T.\n"
               "#define TYPE_SWITCH(T, CALL) \\\n    switch (T) { \\\n");
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        if (t + 1 < KVV_TYPE_COUNT)
            fprintf(f, "    case %du: CALL(%du); break; \\\n", t, t);
        else
            fprintf(f, "    default: CALL(%du); break; \\\n", t);
    }
    fprintf(f, "    }\n");
    return fclose(f) == 0 ? 0 : 1;
}
