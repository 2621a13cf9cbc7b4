#pragma once
// Counts heap allocations made through the global operator new (replaced in alloc_counter.cpp,
// for the benchmark binary only). std::malloc calls made directly are not counted; the
// engine allocates only through containers and new.
#include <cstdint>

namespace mandate::bench {

std::uint64_t allocationCount();

}  // namespace mandate::bench
