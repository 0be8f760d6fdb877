# Hostile test backends (tests/plugins/hostile_backend.c built three ways):
# plugin libraries that segfault, abort or hang on rows of 96 values, for
# tests/test_hostile_backends.c.  Output: <build>/tests/plugins/libhostile_<kind>.so
foreach(kind segv abort hang sizes)
  add_library(hostile_${kind} MODULE ${CMAKE_CURRENT_LIST_DIR}/hostile_backend.c)
  string(TOUPPER ${kind} KIND)
  target_compile_definitions(hostile_${kind} PRIVATE HOSTILE_${KIND}=1)
  set_target_properties(hostile_${kind} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins)
  if(TARGET test_hostile_backends)
    add_dependencies(test_hostile_backends hostile_${kind})
  endif()
endforeach()
if(TARGET test_hostile_backends AND TARGET kvverify)
  add_dependencies(test_hostile_backends kvverify)
endif()

# Backends that lie about their precision, write past their buffers, print
# to stdout or hang while loading (tests/plugins/liar_backend.c built once
# per kind), for tests/test_trust.c.  Output:
# <build>/tests/plugins/libliar_<kind>.so
foreach(kind zeros no_q overrun chatty hang_get)
  add_library(liar_${kind} MODULE ${CMAKE_CURRENT_LIST_DIR}/liar_backend.c)
  string(TOUPPER ${kind} KIND)
  target_compile_definitions(liar_${kind} PRIVATE LIAR_${KIND}=1)
  target_link_libraries(liar_${kind} PRIVATE ${M_LIB})
  set_target_properties(liar_${kind} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins)
  if(TARGET test_trust)
    add_dependencies(test_trust liar_${kind})
  endif()
endforeach()
if(TARGET test_trust AND TARGET kvverify)
  add_dependencies(test_trust kvverify hostile_segv broken_bad_abi broken_short_struct broken_missing_entry
                   broken_null_table broken_bad_config no_symbol)
endif()
