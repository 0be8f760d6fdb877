/* Kept for tests written before tests/harness.h: include that instead. */
#include "oracle/oracle.h"
#include "tests/harness.h"
