// Flush-to-zero and denormals-are-zero on the calling thread for the life of the object, then the thread's own
// mode again. Gradients that vanish over a long sequence reach float32's denormal range (below 1.2e-38), where
// every multiply-add on this hardware takes a microcode assist: BPTT of an LSTM (16,200,64,64) that only sees
// the last output's gradient ran 132 ms instead of 11 ms. TensorFlow flushes the same way; the values lost are
// far below anything a float32 model can resolve. MXCSR is per thread, so each OpenMP region sets it again.
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace rnnkit {

class FlushDenormals {
 public:
#if defined(__SSE__) || defined(__x86_64__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  static constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
  unsigned saved_;
#else
  FlushDenormals() {}  // other architectures keep their default mode
#endif
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;
};

}  // namespace rnnkit
