# Run at build time (cmake -P): writes OUT with the source tree's git commit,
# rewriting it only when the commit changed, so that a new commit rebuilds
# core/version.c and relinks, and nothing else.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit "unknown")
endif()
file(CONFIGURE OUTPUT ${OUT} CONTENT "#define KVV_GIT_COMMIT_TEXT \"${commit}\"\n")
