/* A shared library that is not a backend: it exports no kvv_backend_get.
 * tests/test_plugin.c checks that kvverify says so. */
__attribute__((visibility("default"))) int kvv_not_a_backend(void)
{
    return 42;
}
