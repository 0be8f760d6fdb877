// Build-time shim for ci/fork-build.sh --vulkan on Debian 12: its Vulkan
// headers (1.3.239) predate VK_EXT_layer_settings (1.3.261), which a 2026
// ggml-vulkan uses in one place, to ask the validation layer for best-practice
// checks when asked to (GGML_VK_VALIDATE).  This header stands in front of the
// system's vulkan.hpp and, when the extension is missing there, declares the
// two structures and the enum with the extension's layout and values, so
// that the fork's code compiles unchanged.  The structure is chained into
// instance creation even when unused; drivers ignore structure types they do
// not know.  Nothing here is ever run by kvverify itself.
//
// ggml-vulkan of September 2025 also names vk::detail::DispatchLoaderDynamic
// (where Vulkan-Hpp 1.4.3xx moved vk::DispatchLoaderDynamic), forward-declared
// before it includes this header; with older headers that class is defined
// here as the old one under the new name.
#pragma once
#include_next <vulkan/vulkan.hpp>

#if VK_HEADER_VERSION < 300
namespace vk::detail {
class DispatchLoaderDynamic : public ::vk::DispatchLoaderDynamic {
  public:
    using ::vk::DispatchLoaderDynamic::DispatchLoaderDynamic;
};
} // namespace vk::detail
#endif

#ifndef VK_EXT_layer_settings
#include <cstdint>
#include <vector>
namespace vk {
enum class LayerSettingTypeEXT : int32_t {
    eBool32 = 0, eInt32 = 1, eInt64 = 2, eUint32 = 3, eUint64 = 4, eFloat32 = 5, eFloat64 = 6, eString = 7
};
struct LayerSettingEXT {
    const char *pLayerName;
    const char *pSettingName;
    LayerSettingTypeEXT type;
    uint32_t valueCount;
    const void *pValues;
};
struct LayerSettingsCreateInfoEXT {
    StructureType sType = static_cast<StructureType>(1000496000); // VK_STRUCTURE_TYPE_LAYER_SETTINGS_CREATE_INFO_EXT
    const void *pNext = nullptr;
    uint32_t settingCount = 0;
    const LayerSettingEXT *pSettings = nullptr;
    explicit LayerSettingsCreateInfoEXT(const std::vector<LayerSettingEXT> &s)
        : settingCount(static_cast<uint32_t>(s.size())), pSettings(s.data()) {}
};
} // namespace vk
#endif
