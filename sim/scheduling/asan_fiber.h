// AddressSanitizer annotations for fiber switches.
//
// ASan tracks one stack per thread; a fiber switch moves to another stack
// behind its back, and the next throw (forced_unwind when a fiber is
// destroyed) or stack-use-after-return check then misreads the shadow
// memory. Boost.Context 1.74 only annotates its ucontext backend, which the
// Debian library is not built with, so the Scheduler annotates its own
// fcontext switches with these wrappers. Without ASan they compile to nothing.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define MS_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MS_ASAN_FIBERS 1
#endif
#endif

#if defined(MS_ASAN_FIBERS)
#include <sanitizer/common_interface_defs.h>
#endif

namespace ms::sim {

// A stack as ASan knows it: lowest address and size.
struct StackBounds {
  const void* bottom = nullptr;
  size_t size = 0;
};

// Before switching to the stack `to`. fake_stack_save receives this
// context's fake stack; pass nullptr when this context is ending for good.
inline void AsanStartSwitch(void** fake_stack_save, const StackBounds& to) {
#if defined(MS_ASAN_FIBERS)
  __sanitizer_start_switch_fiber(fake_stack_save, to.bottom, to.size);
#else
  (void)fake_stack_save;
  (void)to;
#endif
}

// First thing after arriving on a stack. from (may be null) receives the
// bounds of the stack we came from.
inline void AsanFinishSwitch(void* fake_stack_save, StackBounds* from) {
#if defined(MS_ASAN_FIBERS)
  if (from != nullptr) {
    __sanitizer_finish_switch_fiber(fake_stack_save, &from->bottom, &from->size);
  } else {
    __sanitizer_finish_switch_fiber(fake_stack_save, nullptr, nullptr);
  }
#else
  (void)fake_stack_save;
  (void)from;
#endif
}

}  // namespace ms::sim
