//===- device_radix_sort.cuh - CUB's radix sort, emulated on the CPU -------===//
#ifndef SHEAR_CUDA_EMULATION_CUB_DEVICE_RADIX_SORT_CUH
#define SHEAR_CUDA_EMULATION_CUB_DEVICE_RADIX_SORT_CUH

#include "../../cuda_runtime.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace cub {
struct DeviceRadixSort {
  /// Sorts (key, value) pairs by bits [beginBit, endBit) of the keys,
  /// stably, as CUB's radix sort does. With a null temp_storage only the
  /// temporary storage's size is set.
  template <class K, class V, class N>
  static cudaError_t SortPairs(void *temp, size_t &tempBytes, const K *keysIn, K *keysOut, const V *valuesIn,
                               V *valuesOut, N n, int beginBit = 0, int endBit = int(sizeof(K) * 8),
                               cudaStream_t = nullptr) {
    if (!temp) {
      tempBytes = 256;
      return cudaSuccess;
    }
    if (n < 0 || beginBit < 0 || endBit > int(sizeof(K) * 8) || beginBit > endBit)
      return cudaErrorInvalidValue;
    ::shear_emu::DeviceAccess access;
    using U = std::make_unsigned_t<K>;
    auto bits = [&](K key) {
      U u = static_cast<U>(key) >> beginBit;
      int width = endBit - beginBit;
      return width >= int(sizeof(U) * 8) ? u : U(u & ((U(1) << width) - 1));
    };
    std::vector<size_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return bits(keysIn[a]) < bits(keysIn[b]); });
    std::vector<K> keys(order.size());
    std::vector<V> values(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      keys[i] = keysIn[order[i]];
      values[i] = valuesIn[order[i]];
    }
    std::copy(keys.begin(), keys.end(), keysOut);
    std::copy(values.begin(), values.end(), valuesOut);
    return cudaSuccess;
  }
};
} // namespace cub

#endif
