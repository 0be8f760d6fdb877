/* The version strings of include/kvv/version.h. */
#include "kvv/version.h"
#include "kvv_git_commit.h" /* generated: cmake/git_commit.cmake */

const char kvv_version_text[] = KVV_PROJECT_VERSION;
const char kvv_git_commit_text[] = KVV_GIT_COMMIT_TEXT;
