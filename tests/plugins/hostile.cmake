# Hostile test backends (tests/plugins/hostile_backend.c built three ways):
# plugin libraries that segfault, abort or hang on rows of 96 values, for
# tests/test_hostile_backends.c.  Output: <build>/tests/plugins/libhostile_<kind>.so
foreach(kind segv abort hang sizes)
  add_library(hostile_${kind} MODULE ${CMAKE_CURRENT_LIST_DIR}/hostile_backend.c)
  string(TOUPPER ${kind} KIND)
  target_compile_definitions(hostile_${kind} PRIVATE HOSTILE_${KIND}=1)
  target_link_libraries(hostile_${kind} PRIVATE kvv_abi kvv_flags)
  set_target_properties(hostile_${kind} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins)
  add_dependencies(test_hostile_backends hostile_${kind})
endforeach()
add_dependencies(test_hostile_backends kvverify)

# Backends that lie about their precision, write past their buffers, print
# to stdout or hang while loading (tests/plugins/liar_backend.c built once
# per kind), for tests/test_trust.c.  Output:
# <build>/tests/plugins/libliar_<kind>.so
foreach(kind zeros no_q overrun chatty hang_get)
  add_library(liar_${kind} MODULE ${CMAKE_CURRENT_LIST_DIR}/liar_backend.c)
  string(TOUPPER ${kind} KIND)
  target_compile_definitions(liar_${kind} PRIVATE LIAR_${KIND}=1)
  target_link_libraries(liar_${kind} PRIVATE kvv_abi kvv_flags ${M_LIB})
  kvv_view(liar_${kind} kernels/template PRIVATE) # it wraps the porting template
  set_target_properties(liar_${kind} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins)
  add_dependencies(test_trust liar_${kind})
endforeach()
# (the broken_* and no_symbol libraries come from tests/plugins/CMakeLists.txt)
add_dependencies(test_trust kvverify hostile_segv broken_bad_abi broken_short_struct broken_missing_entry
                 broken_null_table broken_bad_config no_symbol)
# the precision claims in the reports, through the command line (tests/test_claim_reports.c)
add_dependencies(test_claim_reports kvverify liar_no_q)
# bench runs its backends in a child process (tests/test_bench_isolate.c)
add_dependencies(test_bench_isolate kvverify hostile_segv hostile_sizes liar_chatty)
# guard zones in the ppl runs (tests/test_ppl_guard.c)
add_dependencies(test_ppl_guard kvverify liar_overrun)
# replay checks the stored backends up front (tests/test_replay_checks.c)
add_dependencies(test_replay_checks kvverify liar_overrun broken_bad_abi)
# bisect ends cleanly on SIGTERM and SIGINT (tests/test_bisect_signal.c)
add_dependencies(test_bisect_signal kvverify)
# list options given twice add up (tests/test_cli_repeat.c)
add_dependencies(test_cli_repeat kvverify)
add_dependencies(test_help_help kvverify)
# SIGTERM ends replay, fuzz, ppl and bench with status 1 (tests/test_interrupt_tools.c)
add_dependencies(test_interrupt_tools kvverify hostile_hang)
