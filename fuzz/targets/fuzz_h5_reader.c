/* Fuzz target: the HDF5 dump reader (dump/reader.c).  The input is written
 * to a scratch file and opened as a dump; every case is read with its
 * arrays.  Properties: a refused file or case says why; an accepted one
 * gives arrays whose every byte can be read, with a case name that parses.
 * (libhdf5 itself is not instrumented: a crash inside it is still a crash.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump/dump.h"
#include "fuzz/targets/fuzz_target.h"

static char scratch[256];

static void remove_scratch(void) { unlink(scratch); }

static const char *scratch_path(void)
{
    if (!scratch[0]) {
        /* tmpfs when there is one: a file per input is the reader's interface */
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(scratch, sizeof scratch, "%s/kvv_fuzz_h5_%ld.h5", dir, (long)getpid());
        atexit(remove_scratch);
    }
    return scratch;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = scratch_path();
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    size_t w = fwrite(data, 1, size, f);
    if (fclose(f) || w != size)
        return 0;
    char why[512] = "";
    kvv_dump *d = kvv_dump_open_direct(path, why, sizeof why);
    if (!d) {
        KVV_FUZZ_CHECK(why[0], "a refused dump must say why");
        return 0;
    }
    int n = kvv_dump_count(d);
    KVV_FUZZ_CHECK(n >= 0, "%d cases", n);
    (void)kvv_dump_attr(d, "tool_version");
    (void)kvv_dump_attr(d, "no such key");
    for (int i = 0; i < n && i < 64; i++) {
        kvv_dump_entry *e = malloc(sizeof *e);
        if (!e)
            break;
        kvv_record rec = {0};
        why[0] = 0;
        if (kvv_dump_read(d, i, e, &rec, why, sizeof why)) {
            KVV_FUZZ_CHECK(why[0], "a refused case must say why");
        } else {
            kvv_case back;
            char err[256];
            KVV_FUZZ_CHECK(kvv_case_parse(e->name, &back, err, sizeof err) == 0, "stored name '%s': %s", e->name,
                           err);
            unsigned sum = 0;
            for (int a = 0; a < rec.n; a++) {
                const kvv_array *arr = &rec.a[a];
                KVV_FUZZ_CHECK(arr->ndim >= 1 && arr->ndim <= KVV_MAX_DIMS, "array %s has %d dims", arr->name,
                               arr->ndim);
                size_t bytes = (size_t)kvv_array_count(arr) * kvv_dtype_size(arr->dtype);
                for (size_t b = 0; b < bytes; b++) /* ASan: every byte is really there */
                    sum += ((const unsigned char *)arr->data)[b];
            }
            (void)sum;
        }
        kvv_record_free(&rec);
        free(e);
    }
    kvv_dump_close(d);
    return 0;
}
