/* kvverify's version and the git commit it was built from (core/version.c;
 * the commit comes from a header the build regenerates, so that a commit
 * rebuilds one file). */
#ifndef KVV_VERSION_H
#define KVV_VERSION_H

extern const char kvv_version_text[];
extern const char kvv_git_commit_text[];
#define KVV_VERSION kvv_version_text
#define KVV_GIT_COMMIT kvv_git_commit_text

#endif
