# Writes OUT: a C file holding every SPIR-V module of FILES as a uint32_t
# array (little-endian words, as vkCreateShaderModule takes them) and a
# table by name.  Run with cmake -P at build time.
set(body "/* Generated at build time from kernels/vulkan/shaders by embed_spirv.cmake; do not edit. */\n")
string(APPEND body "#include \"kernels/vulkan/vk_internal.h\"\n\n")
set(table "")
set(count 0)
foreach(f ${FILES})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} hex HEX)
  string(LENGTH "${hex}" nhex)
  math(EXPR nbytes "${nhex} / 2")
  # bytes b0 b1 b2 b3 -> the word 0xb3b2b1b0
  string(REGEX REPLACE "([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])"
         "0x\\4\\3\\2\\1u," words "${hex}")
  string(REGEX REPLACE "((0x[0-9a-f]+u,){8})" "\\1\n" words "${words}")
  string(APPEND body "static const uint32_t spv_${name}[] = {\n${words}};\n")
  string(APPEND table "    {\"${name}\", spv_${name}, ${nbytes}},\n")
  math(EXPR count "${count} + 1")
endforeach()
string(APPEND body "\nconst vkv_spirv vkv_spirv_table[] = {\n${table}};\n")
string(APPEND body "const int vkv_spirv_count = ${count};\n")
file(WRITE ${OUT} "${body}")
