// Test helper: runs a check once per SIMD target that Highway compiled in and this CPU
// supports, forcing the dynamic dispatcher onto that target for the duration.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <functional>
#include <string>

namespace afm::testing {

inline void for_each_simd_target(const std::function<void()>& check) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(std::string("SIMD target ") + hwy::TargetName(target));
    check();
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace afm::testing
